"""``JobHandle``: what ``enqueue`` returns, and ``get_job(id)`` loads.

A handle *is* the job id (an ``int`` subclass), so code that stored, compared or
serialised the bare id keeps working, and ``enqueue`` costs no extra query: the row is
read on the first ``status``/``result``/... access, and again on ``refresh()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django_onestep.core.errors import OneStepError

__all__ = ["JobError", "JobFailed", "JobHandle", "JobNotFound", "get_job"]

# the row's status -> the handle's; a succeeded job is "done" in the table
_STATUS = {"done": "succeeded"}
FINISHED = frozenset({"succeeded", "failed", "dead", "cancelled", "expired", "aborted"})
_FIELDS = (
    "queue", "status", "result", "error", "last_error", "progress", "attempts", "created_at",
    "claimed_at", "finished_at", "expires_at", "abort_requested_at",
)  # fmt: skip


class JobNotFound(OneStepError, LookupError):
    """No job has this id (never enqueued, rolled back, or pruned after its retention)."""


class JobFailed(OneStepError):
    """``wait()`` on a job that finished without success; ``handle`` says how."""

    def __init__(self, handle: JobHandle) -> None:
        error = handle.error
        why = f": {error.type}: {error.message}" if error is not None else ""
        super().__init__(f"job {int(handle)} {handle.status}{why}")
        self.handle = handle


@dataclass(frozen=True)
class JobError:
    """The last failure of a job: exception type, message and traceback (may be empty)."""

    type: str
    message: str
    traceback: str = ""


class JobHandle(int):
    """One job of a ``DatabaseQueue``, usable wherever its id was: ``int(h)``, ``str(h)``,
    ``h == 42``, ``hash(h)``, ``json.dumps(h)`` and ``DjangoJSONEncoder`` all see the id.

    ``status`` is one of queued, running, succeeded, failed, dead, cancelled, expired,
    aborted. ``wait()``/``aget()`` poll until the job finishes (``waiting.py``).
    """

    using: str
    _row: dict[str, Any] | None

    def __new__(cls, job_id: int, *, using: str = "default") -> JobHandle:
        handle = super().__new__(cls, job_id)
        handle.using = using
        handle._row = None
        return handle

    # the id's text, not the repr below: f"{handle}" and str(handle) stay "42"
    __str__ = int.__repr__

    def __repr__(self) -> str:
        status = f" {self._status_of(self._row)}" if self._row is not None else ""
        return f"<JobHandle {int(self)}{status}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (int(self), self.using))

    @property
    def id(self) -> int:
        return int(self)

    # ----- reading -------------------------------------------------------------------

    def refresh(self) -> JobHandle:
        """Read the row again (one query, no transaction of its own); returns ``self``."""
        self._row = load_row(int(self), self.using)
        return self

    def _loaded(self) -> dict[str, Any]:
        if self._row is None:
            self.refresh()
        assert self._row is not None
        return self._row

    @staticmethod
    def _status_of(row: dict[str, Any]) -> str:
        status = str(row["status"])
        expires_at: datetime | None = row["expires_at"]
        if status == "queued" and expires_at is not None:
            from django.utils import timezone

            if expires_at <= timezone.now():  # due to be marked expired; it never runs
                return "expired"
        return _STATUS.get(status, status)

    @property
    def status(self) -> str:
        return self._status_of(self._loaded())

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def result(self) -> Any:
        """The handler's return value once ``succeeded`` (None before, or when not stored)."""
        return self._loaded()["result"]

    @property
    def error(self) -> JobError | None:
        row = self._loaded()
        detail = row["error"]
        if isinstance(detail, dict):
            return JobError(
                type=str(detail.get("type", "")),
                message=str(detail.get("message", "")),
                traceback=str(detail.get("traceback", "")),
            )
        if row["last_error"]:  # a failure being retried: "Type: message"
            kind, _, message = str(row["last_error"]).partition(": ")
            return JobError(type=kind, message=message)
        return None

    @property
    def progress(self) -> dict[str, Any] | None:
        """The last ``ctx.set_progress(current, total, **meta)`` written: a dict, or None."""
        value = self._loaded()["progress"]
        return dict(value) if isinstance(value, dict) else None

    @property
    def attempts(self) -> int:
        return int(self._loaded()["attempts"])

    @property
    def queue(self) -> str:
        return str(self._loaded()["queue"])

    @property
    def enqueued_at(self) -> datetime:
        value: datetime = self._loaded()["created_at"]
        return value

    @property
    def started_at(self) -> datetime | None:
        """When the latest attempt started (None while it never ran)."""
        value: datetime | None = self._loaded()["claimed_at"]
        return value

    @property
    def finished_at(self) -> datetime | None:
        value: datetime | None = self._loaded()["finished_at"]
        return value

    @property
    def expires_at(self) -> datetime | None:
        value: datetime | None = self._loaded()["expires_at"]
        return value

    @property
    def abort_requested(self) -> bool:
        return self._loaded()["abort_requested_at"] is not None

    # ----- waiting and cancelling ----------------------------------------------------

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the job finishes; its result, or ``JobFailed`` (``TimeoutError``
        after ``timeout`` seconds). Polls with backoff, outside any transaction."""
        from django_onestep.results.notify import FinishedListener
        from django_onestep.results.waiting import listen_until, poll_until, refuse_transaction

        refuse_transaction(self.using, int(self))
        listener = FinishedListener.open(self.using, int(self))  # before the first read
        try:
            if listener is None:
                finished = poll_until(lambda: self.refresh().finished, timeout)
            else:
                finished = listen_until(lambda: self.refresh().finished, listener.heard, timeout)
        finally:
            if listener is not None:
                listener.close()
        if not finished:
            raise TimeoutError(f"job {int(self)} still {self.status} after {timeout}s")
        return self._outcome()

    async def aget(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - the API wait() mirrors
        """``wait()`` for async code: ``result = await handle.aget(timeout=5)``."""
        from asgiref.sync import sync_to_async

        from django_onestep.results.waiting import (
            apoll_until,
            can_listen,
            closing_connections,
            refuse_transaction,
        )

        await sync_to_async(refuse_transaction)(self.using, int(self))
        if await sync_to_async(can_listen)(self.using):  # a LISTEN blocks: in a thread of its own
            return await sync_to_async(closing_connections(self.wait), thread_sensitive=False)(timeout)
        refresh = sync_to_async(self.refresh)

        async def done() -> bool:
            return (await refresh()).finished

        if not await apoll_until(done, timeout):
            raise TimeoutError(f"job {int(self)} still {self.status} after {timeout}s")
        return self._outcome()

    def _outcome(self) -> Any:
        if self.status != "succeeded":
            raise JobFailed(self)
        return self.result

    def cancel(self) -> str:
        """Cancel a queued job (it never runs) or ask a running one to stop.

        Returns the status that follows: ``"cancelled"``, ``"aborting"`` (the worker
        stops it within one lease renewal), or the finished status it already had.
        """
        from django_onestep.results.cancel import cancel_job

        outcome = cancel_job(int(self), self.using)
        self._row = None
        return outcome if outcome is not None else self.refresh().status


def _rebuild(job_id: int, using: str) -> JobHandle:
    return JobHandle(job_id, using=using)


def load_row(job_id: int, using: str) -> dict[str, Any]:
    from django_onestep.models import Job

    row: dict[str, Any] | None = Job.objects.using(using).filter(pk=job_id).values(*_FIELDS).first()
    if row is None:
        raise JobNotFound(f"no job with id {job_id} in database {using!r}")
    return row


def get_job(job_id: int | str, *, using: str | None = None) -> JobHandle:
    """Load one job by id (an int or its text); ``JobNotFound`` when there is none."""
    from django_onestep.conf import get_settings

    try:
        number = int(job_id)
    except (TypeError, ValueError):
        raise JobNotFound(f"{job_id!r} is not a job id (job ids are whole numbers)") from None
    return JobHandle(number, using=using or get_settings().DATABASE).refresh()
