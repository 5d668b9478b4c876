"""The Temporal engine: Temporal's gRPC API behind the `Engine` Protocol (the only package
importing temporalio). Imported only when a config says `engine: {kind: temporal}` or for the
demo, so the default engine never loads the SDK.

`loop` runs the SDK's asyncio on a private thread, `client` opens the connection, `events`
turns history events into the dicts Output's API serves, `requests` builds what is sent,
`failures` turns temporalio's errors into ours, `adapter` is the `TemporalEngine`.
"""

from __future__ import annotations

from runner.temporal.adapter import TemporalEngine
from runner.temporal.events import (
    decode_payloads,
    encode_payload,
    event_to_dict,
    events_to_dicts,
    status_name,
)
from runner.temporal.loop import LoopThread, result_unless_stopped, start_runtime

__all__ = [
    "LoopThread",
    "TemporalEngine",
    "decode_payloads",
    "encode_payload",
    "event_to_dict",
    "events_to_dicts",
    "result_unless_stopped",
    "start_runtime",
    "status_name",
]
