"""Run the example worker: in this process on a thread of its own (tests), or as `__main__`.

`BackgroundWorker` owns one thread, one event loop, one client and one workflow-task thread
pool, and `close()` ends all of them, so a test that uses it leaves no thread behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from temporalio.client import Client
from temporalio.worker import Worker

from runner.demo.worker.evaluation import EVAL_WORKFLOW, BlogDigestEval
from runner.demo.worker.evaluators import evaluator_activities
from runner.demo.worker.steps import Settings, activities
from runner.demo.worker.workflows import STEPS, WORKFLOWS

# Every workflow type the worker registers (Output's catalog, for the API double on Temporal).
WORKFLOW_NAMES = (*STEPS, EVAL_WORKFLOW)

T = TypeVar("T")

READY_TIMEOUT_S = 30.0


def new_worker(
    client: Client,
    *,
    task_queue: str,
    settings: Settings,
    executor: concurrent.futures.ThreadPoolExecutor,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[*WORKFLOWS, BlogDigestEval],
        activities=[*activities(settings), *evaluator_activities(settings)],
        workflow_task_executor=executor,
        max_concurrent_workflow_tasks=4,
    )


async def start_run(
    client: Client,
    *,
    workflow_type: str,
    workflow_id: str,
    request: dict[str, Any],
    task_queue: str,
) -> str:
    """Start a run of an example workflow; return its run id."""
    handle = await client.start_workflow(
        workflow_type, request, id=workflow_id, task_queue=task_queue
    )
    assert handle.result_run_id is not None
    return handle.result_run_id


class BackgroundWorker:
    """The example worker on a private thread and event loop; use as a context manager."""

    def __init__(
        self, address: str, *, task_queue: str, settings: Settings, namespace: str = "default"
    ) -> None:
        self.address = address
        self.namespace = namespace
        self.task_queue = task_queue
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._client: Client | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(
            target=self._main, name=f"example-worker-{task_queue}", daemon=True
        )

    def __enter__(self) -> BackgroundWorker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(READY_TIMEOUT_S):
            self.close()
            raise RuntimeError(f"the example worker did not start within {READY_TIMEOUT_S:.0f} s")
        if self._failure is not None:
            self._thread.join()
            raise RuntimeError(f"the example worker failed to start: {self._failure}")

    def start_run(
        self,
        workflow_type: str,
        workflow_id: str,
        request: dict[str, Any] | None = None,
        *,
        task_queue: str | None = None,
    ) -> str:
        """Start a run (on this worker's task queue unless told); return its run id."""
        assert self._client is not None, "start() the worker first"
        return self._call(
            start_run(
                self._client,
                workflow_type=workflow_type,
                workflow_id=workflow_id,
                request=request or {},
                task_queue=task_queue or self.task_queue,
            )
        )

    def close(self) -> None:
        if self._thread.is_alive():
            stop = self._stop
            if stop is not None:
                self._loop.call_soon_threadsafe(stop.set)
            self._thread.join(READY_TIMEOUT_S)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(READY_TIMEOUT_S)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix=f"example-workflows-{uuid.uuid4().hex[:6]}"
        )
        try:
            self._client = await Client.connect(self.address, namespace=self.namespace)
            worker = new_worker(
                self._client, task_queue=self.task_queue, settings=self.settings, executor=executor
            )
            async with worker:
                self._ready.set()
                await self._stop.wait()
        except Exception as exc:
            self._failure = exc
        finally:
            executor.shutdown(wait=True)
