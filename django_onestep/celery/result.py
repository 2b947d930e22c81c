"""``AsyncResult``: Celery's view of one job, over the job's ``JobHandle``.

Celery reads an id it never saw as ``PENDING``; here an unknown id raises ``JobNotFound``
on the first read, so a typo or a pruned job is never mistaken for work still queued.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django_onestep.results.handle import FINISHED, JobFailed, JobHandle, get_job

__all__ = ["READY_STATES", "AsyncResult"]

READY_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
_STATES = {
    "succeeded": "SUCCESS",
    "failed": "FAILURE",
    "dead": "FAILURE",
    "cancelled": "REVOKED",
    "aborted": "REVOKED",
    "expired": "REVOKED",
}


class AsyncResult:
    """``AsyncResult(id)`` or what ``.delay()`` returns: ``state``, ``ready()``,
    ``successful()``, ``get(timeout=)``, ``result``, ``info``, ``traceback``, ``revoke()``."""

    def __init__(self, id: int | str | JobHandle, *, using: str | None = None) -> None:
        if isinstance(id, JobHandle):
            self._handle: JobHandle | None = id
            self._id: int | str = int(id)
        else:
            self._handle = None
            self._id = id  # checked on the first read: get_job() names a bad one
        self._using = using

    @property
    def handle(self) -> JobHandle:
        if self._handle is None:
            self._handle = get_job(self._id, using=self._using)
        return self._handle

    @property
    def id(self) -> str:
        return str(int(self.handle)) if self._handle is not None else str(self._id)

    task_id = id

    @property
    def state(self) -> str:
        """PENDING (queued), RETRY (queued after a failure), STARTED (running, or the
        state given to ``update_state``), SUCCESS, FAILURE or REVOKED."""
        handle = self.handle.refresh()
        status = handle.status
        if status == "queued":
            return "RETRY" if handle.error is not None else "PENDING"
        if status == "running":
            progress = handle.progress or {}
            return str(progress.get("state") or "STARTED")
        return _STATES.get(status, status.upper())

    status = state

    def ready(self) -> bool:
        return self.handle.refresh().status in FINISHED

    def successful(self) -> bool:
        return self.state == "SUCCESS"

    def failed(self) -> bool:
        return self.state == "FAILURE"

    def get(self, timeout: float | None = None, propagate: bool = True, interval: float | None = None) -> Any:
        """Wait for the job: its return value; ``JobFailed`` (or, with ``propagate=False``,
        the ``JobFailed`` returned) when it ended otherwise; ``TimeoutError`` after ``timeout``."""
        try:
            return self.handle.wait(timeout=timeout)
        except JobFailed as failure:
            if propagate:
                raise
            return failure

    @property
    def result(self) -> Any:
        """The return value once successful; the failure (``JobFailed``) once failed;
        the progress meta while running; None while queued."""
        handle = self.handle.refresh()
        if handle.status == "succeeded":
            return handle.result
        if handle.status in FINISHED:
            return JobFailed(handle)
        return self._meta(handle)

    @property
    def info(self) -> Any:
        return self.result

    @staticmethod
    def _meta(handle: JobHandle) -> dict[str, Any] | None:
        progress = handle.progress
        if progress is None:
            return None
        return {key: value for key, value in progress.items() if key != "state"}

    @property
    def traceback(self) -> str | None:
        error = self.handle.refresh().error
        return error.traceback if error is not None else None

    @property
    def date_done(self) -> datetime | None:
        return self.handle.refresh().finished_at

    def revoke(self, terminate: bool = False) -> None:
        """Cancel the job if queued; ask it to stop if running (the worker aborts it)."""
        self.handle.cancel()

    def forget(self) -> None:
        """Accepted: results are pruned with the job (``DONE_JOB_RETENTION_S``)."""

    def __int__(self) -> int:
        return int(self.handle) if self._handle is not None else int(self._id)

    def __str__(self) -> str:
        return self.id

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AsyncResult):
            return self.id == other.id
        return self.id == str(other)

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<AsyncResult: {self.id}>"
