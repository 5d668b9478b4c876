"""Every exception output-reset raises on purpose, as one tree; the CLI maps each to an exit code.

Everything foreign (httpx, temporalio, watchdog, OS and YAML errors) is translated into one of
these at the adapter that caught it, so nothing above the adapters knows third-party exceptions.
Anything else that escapes is a bug: the CLI prints its traceback and exits 3.

    RunnerError              1  expected failure, one line for a person at a terminal
    ├── ConfigError          2  the config file (or an environment variable) is wrong
    ├── UsageError           2  the command line asks for something that cannot be done
    │   └── AlreadyWatching  2  another `watch` holds this config
    ├── StateError           1  the state folder cannot be read or written
    ├── NotWritten           1  a dataset file save-datasets left as it was
    ├── WatchError           1  the OS refused to watch (limits, permissions)
    ├── ApiError             1  the engine refused a request or could not be reached
    │   ├── AuthError           401 / refused credentials
    │   ├── NoRunYet            nothing to pin: the workflow type never ran
    │   │   └── NotStarted      a dataset case has no run with its input yet
    │   ├── NoSuchWorkflow      the worker does not know that workflow (no eval workflow)
    │   ├── BadAnswer           an answer that does not fit the contract
    │   └── ResetOutcomeUnknown a reset went out and its answer was lost
    ├── NotReset             1  a reset that is deliberately not sent now
    │   ├── OtherRunRunning     another run is running under the workflow id
    │   ├── ResetInProgress     another output-reset is resetting this run right now
    │   └── SideEffectsDeclined it would re-run a step marked side_effects
    └── Stopped              0  asked to stop while starting something (Ctrl-C)
"""

from __future__ import annotations


class RunnerError(Exception):
    """An expected failure, with a message meant for a person at a terminal."""

    exit_code = 1


class ConfigError(RunnerError):
    """The config file (or an environment variable it relies on) is wrong: exit 2."""

    exit_code = 2


class UsageError(RunnerError):
    """The command line asks for something that cannot be done: exit 2."""

    exit_code = 2


class AlreadyWatching(UsageError):
    """Another `output-reset watch` holds this config's folder."""


class StateError(RunnerError):
    """The state folder cannot be read or written."""


class NotWritten(RunnerError):
    """A dataset file that save-datasets left as it was; the message is the one line to show."""


class WatchError(RunnerError):
    """The OS refused to watch (limits, permissions)."""


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
    """401: the token is missing or wrong (or Temporal refused the credentials)."""


class NoRunYet(ApiError):
    """A `type:` entry has nothing to pin: no run of that workflow type exists yet."""


class NotStarted(NoRunYet):
    """A dataset case has no run with its input under its workflow id yet: start one."""


class NoSuchWorkflow(ApiError):
    """The worker does not register that workflow (e.g. no `<workflow>_eval`): 424."""


class BadAnswer(ApiError):
    """The engine answered with something that does not fit its contract."""


class ResetOutcomeUnknown(ApiError):
    """The reset request was sent but its answer was lost; it may or may not have happened."""


class NotReset(RunnerError):
    """A reset that output-reset deliberately does not send now; the change stays pending."""


class OtherRunRunning(NotReset):
    """A run other than the pin is running under the workflow id; a reset would kill it."""


class ResetInProgress(NotReset):
    """Another output-reset process is resetting this run right now; look again shortly."""


class SideEffectsDeclined(NotReset):
    """The reset would re-run a step marked `side_effects` and nobody said yes."""


class Stopped(RunnerError):
    """Asked to stop (Ctrl-C) while something was starting: not a failure."""

    exit_code = 0


def one_line(text: str) -> str:
    """`text` with its control characters escaped (a line break becomes `\\n`, an escape
    sequence `\\x1b[2J`): a message stays one line and cannot drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
