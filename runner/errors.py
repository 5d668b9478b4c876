"""The runner's exception tree; the CLI maps each class to an exit code.

Everything foreign (httpx, watchdog, OS and YAML errors) is translated into one of these at the
adapter that caught it, so nothing below the CLI needs to know about third-party exceptions.
"""

from __future__ import annotations


class RunnerError(Exception):
    """An expected failure, with a message meant for a person at a terminal."""

    exit_code = 1


class ConfigError(RunnerError):
    """The config file (or a command-line argument) is wrong: exit 2."""

    exit_code = 2


class UsageError(RunnerError):
    """The command line asks for something that cannot be done: exit 2."""

    exit_code = 2


class StateError(RunnerError):
    """The state folder cannot be read or written."""


class ApiError(RunnerError):
    """The engine (Output API or Temporal) refused a request or could not be reached.

    `retryable` is True for transport errors and unexpected 5xx answers, where asking again
    later may work; False for answers that will not change (404, 409, 400, the unmapped
    `5 NOT_FOUND` 500 of the pinned reset route).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.retryable = retryable


class AuthError(ApiError):
    """401: the token is missing or wrong."""


class ResetOutcomeUnknown(ApiError):
    """The reset request was sent but its answer was lost; it may or may not have happened."""
