"""The exceptions Celery code imports (``celery.exceptions``), under the same names."""

from __future__ import annotations

from django_onestep.core.errors import OneStepError
from django_onestep.core.processes.limits import HardTimeLimitExceeded as TimeLimitExceeded
from django_onestep.core.processes.limits import SoftTimeLimitExceeded

__all__ = ["MaxRetriesExceededError", "Retry", "SoftTimeLimitExceeded", "TimeLimitExceeded"]


class Retry(OneStepError):
    """Raised by ``self.retry()``: the job runs again after ``countdown_s``."""

    def __init__(self, message: str, *, countdown_s: float, exc: BaseException | None = None) -> None:
        super().__init__(message)
        self.countdown_s = countdown_s
        self.exc = exc

    def __reduce__(self) -> tuple[object, ...]:  # crosses from a child process intact
        return (_rebuild_retry, (str(self), self.countdown_s, self.exc))


def _rebuild_retry(message: str, countdown_s: float, exc: BaseException | None) -> Retry:
    return Retry(message, countdown_s=countdown_s, exc=exc)


class MaxRetriesExceededError(OneStepError):
    """``self.retry()`` past ``max_retries`` without an ``exc`` to raise instead."""
