"""A faithful test double of the Output HTTP API (a real HTTP server plus a simulated worker).

Modules: `program` (workflow programs and their replay), `evals` (eval workflows: evaluators,
verdicts and their replay), `inputs` (input validation as zod words it), `events` (serialized
history events from the recorded templates), `model` (runs and server-side operations), `worker`
(the simulated worker thread), `routes` (endpoints), `server` (HTTP transport), `faults` (request
log and fault injection), `fake` (the `FakeOutputApi` facade tests use).
"""

from __future__ import annotations

from tests.fakeapi.evals import Evaluator, Interpret, Judgement
from tests.fakeapi.fake import FakeOutputApi
from tests.fakeapi.faults import RecordedRequest
from tests.fakeapi.inputs import Issue, invalid_type
from tests.fakeapi.program import Child, Loop, Parallel, Program, Step, step_result

__all__ = [
    "Child",
    "Evaluator",
    "FakeOutputApi",
    "Interpret",
    "Issue",
    "Judgement",
    "Loop",
    "Parallel",
    "Program",
    "RecordedRequest",
    "Step",
    "invalid_type",
    "step_result",
]
