"""The exceptions a time limit raises, and the one a dead child leaves."""

from __future__ import annotations

from django_onestep.core.errors import OneStepError

__all__ = ["ChildProcessDied", "HardTimeLimitExceeded", "SoftTimeLimitExceeded"]


class SoftTimeLimitExceeded(OneStepError, TimeoutError):
    """Raised inside a handler that ran past ``timeout_s``; it may catch it to clean up."""


class HardTimeLimitExceeded(OneStepError, TimeoutError):
    """The handler ran past ``time_limit_s``: its child process was killed."""


class ChildProcessDied(OneStepError, RuntimeError):
    """The child running the handler exited without an answer (a crash, a kill, OOM)."""
