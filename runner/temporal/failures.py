"""temporalio's failures as output-reset's errors, at the Temporal engine's boundary: one line that
says what happened and what to do, `retryable` where asking again later may work, and whether a
write that failed may still have reached the server.
"""

from __future__ import annotations

from temporalio.service import RPCError, RPCStatusCode

from runner.errors import ApiError, AuthError

_RETRYABLE = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.CANCELLED,
    }
)
_AUTH = frozenset({RPCStatusCode.UNAUTHENTICATED, RPCStatusCode.PERMISSION_DENIED})
# After these, a write may have reached the server although its answer was lost.
_MAYBE_SENT = frozenset(
    {
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.UNAVAILABLE,
    }
)


def mapped(
    exc: BaseException, what: str, *, address: str, namespace: str, key_env: str | None
) -> ApiError:
    """The ApiError for a failed call about `what` ("the history of run R of workflow W")."""
    if isinstance(exc, RPCError):
        code = exc.status
        if code in _AUTH:
            if key_env:
                hint = f"check that {key_env} holds a valid API key for it"
            else:
                hint = (
                    "set engine.api_key_env (the NAME of the variable holding an API key) "
                    "or engine.tls client certificates in the config"
                )
            return AuthError(
                f"Temporal at {address} refused {what} ({code.name}: {exc.message}); {hint}",
                error=code.name,
            )
        if code == RPCStatusCode.NOT_FOUND:
            return ApiError(
                f"{what}: not found in namespace {namespace} ({exc.message})", error=code.name
            )
        if code == RPCStatusCode.UNAVAILABLE:
            return unreachable(address, exc.message)
        return ApiError(
            f"Temporal refused {what} ({code.name}: {exc.message})",
            error=code.name,
            retryable=code in _RETRYABLE,
        )
    if isinstance(exc, TimeoutError):
        return ApiError(f"Temporal at {address} did not answer {what} in time", retryable=True)
    return unreachable(address, str(exc))


def unreachable(address: str, why: str) -> ApiError:
    return ApiError(
        f"cannot reach Temporal at {address} ({_short(why)}); is the server running "
        "(`temporal server start-dev`)?",
        error="UNAVAILABLE",
        retryable=True,
    )


def maybe_sent(exc: BaseException) -> bool:
    """Whether a write that failed this way may have reached the server."""
    if isinstance(exc, TimeoutError):
        return True
    if isinstance(exc, RPCError):
        if exc.status == RPCStatusCode.UNAVAILABLE and _never_connected(exc.message):
            return False
        return exc.status in _MAYBE_SENT
    return not _never_connected(str(exc))


def _never_connected(message: str) -> bool:
    """A failed (re)connect: the request never left this process."""
    lowered = message.lower()
    return "failed client connect" in lowered or "tcp connect error" in lowered


def why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, RPCError):
        return f"{exc.status.name}: {_short(exc.message)}"
    return _short(str(exc))


def _short(message: str) -> str:
    """tonic's transport errors nest five deep; the innermost message is the useful part."""
    if "Connection refused" in message:
        return "connection refused"
    return message if len(message) <= 200 else message[:197] + "..."
