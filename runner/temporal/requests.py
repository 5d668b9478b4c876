"""The requests the Temporal engine sends, built from plain values (no I/O)."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.api.common.v1 import Payloads, WorkflowExecution, WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import WorkflowExecutionConfig
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    StartWorkflowExecutionRequest,
)

from runner.temporal.client import IDENTITY
from runner.temporal.events import encode_payload


def start_request(
    namespace: str,
    workflow_type: str,
    workflow_id: str,
    input: Any,
    config: WorkflowExecutionConfig,
) -> StartWorkflowExecutionRequest:
    """A run of `workflow_type` on `config`'s task queue with its timeouts; a fresh request id
    (the server starts a run once per request id, however often the request is retried)."""
    request = StartWorkflowExecutionRequest(
        namespace=namespace,
        workflow_id=workflow_id,
        workflow_type=WorkflowType(name=workflow_type),
        task_queue=TaskQueue(name=config.task_queue.name),
        identity=IDENTITY,
        request_id=str(uuid.uuid4()),
    )
    if input is not None:
        request.input.CopyFrom(Payloads(payloads=[encode_payload(input)]))
    for name in ("workflow_execution_timeout", "workflow_run_timeout"):
        if config.HasField(name):
            getattr(request, name).CopyFrom(getattr(config, name))
    if config.HasField("default_workflow_task_timeout"):
        request.workflow_task_timeout.CopyFrom(config.default_workflow_task_timeout)
    return request


def history_request(
    namespace: str, workflow_id: str, run_id: str, token: bytes, **options: Any
) -> GetWorkflowExecutionHistoryRequest:
    return GetWorkflowExecutionHistoryRequest(
        namespace=namespace,
        execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
        next_page_token=token,
        **options,
    )
