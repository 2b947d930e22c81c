"""One log line per settled delivery, on the task's logger ``onestep.<app>.<task>``.

The line names the task, the delivery (``job 42``, ``entry 1712-0``...), the attempt
and its limit, the decision and the duration, so a worker log can be read without
the events::

    INFO     task send_email succeeded: job 42, attempt 1/3, 12.3 ms
    WARNING  task send_email failed (ValueError: boom), retry in 2 s: job 42, attempt 2/3, 15.1 ms
    ERROR    task send_email failed (ValueError: boom), dead-lettered: job 42, attempt 3/3, 9.8 ms
             Traceback (most recent call last): ...

Successes can instead be counted and logged as one INFO line per task per
``OutcomeLog.summary_interval_s`` (``OutcomeLog.successes = "summary"``, what
``onestep_worker`` does by default)::

    INFO     task send_email: 1,204 succeeded in the last 10 s (12.3 ms on average, longest 80.1 ms)

An expected retry is one WARNING line; its traceback is a separate DEBUG record (no
``event_kind``/``decision`` on it), so it shows only when the logger is at DEBUG. A terminal failure carries the traceback at
ERROR. Every record has the extras of ``StructuredEventLogger`` (``event_kind``,
``app_name``, ``task_name``, ``source_name``, ``attempts``, ``duration_s``,
``failure_*``) plus ``delivery_id``, ``decision``, ``attempt``, ``max_attempts`` and
``retry_delay_s``, for ``--log-format json``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from django_onestep.core.retry import FailureInfo, FailureKind, NoRetry

if TYPE_CHECKING:
    from django_onestep.core.base import Delivery
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["ACK", "DEAD_LETTER", "FAIL", "RETRY", "OutcomeLog", "SuccessLines", "delivery_id"]

#: ``each``: one line per success; ``summary``: one line per task per interval; ``none``.
SuccessLines = Literal["each", "summary", "none"]

#: ``decision`` values: what became of the delivery.
ACK = "ack"
RETRY = "retry"
DEAD_LETTER = "dead_letter"
FAIL = "fail"

_TERMINAL_WORDS = {DEAD_LETTER: "dead-lettered", FAIL: "not retried"}
_SUMMARY_MAX_CHARS = 200

# Public id attributes of the transports' deliveries, and the word the line uses.
_ID_ATTRIBUTES = (("job_id", "job"), ("entry_id", "entry"), ("message_id", "message"))


def delivery_id(delivery: Delivery) -> tuple[str, Any] | None:
    """``("job", 42)`` for a database job, ``("entry", "1-0")`` for a Redis entry... or None."""
    for attribute, word in _ID_ATTRIBUTES:
        value = getattr(delivery, attribute, None)
        if value is not None and value != "":
            return word, value
    return None


def _max_attempts(task: TaskSpec) -> int | None:
    policy = task.retry
    if isinstance(policy, NoRetry):
        return 1
    limit = getattr(policy, "max_attempts", None)
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else None


def _seconds(value_s: float) -> str:
    return f"{value_s:.0f} s" if value_s >= 10 else f"{value_s:.3g} s"


def _duration(duration_s: float) -> str:
    if duration_s >= 1:
        return f"{duration_s:.2f} s"
    duration_ms = duration_s * 1000
    return f"{duration_ms:.1f} ms" if duration_ms >= 1 else f"{duration_ms:.3f} ms"


class OutcomeLog:
    """Writes the outcome lines of one task; built once per task runner."""

    #: What successes log (logging's configuration is process-wide, and so is this).
    #: A line per success costs more than the rest of a no-op task's run, so
    #: ``onestep_worker`` counts them instead unless ``LOG_SUCCESSES = True``.
    successes: ClassVar[SuccessLines] = "each"
    summary_interval_s: ClassVar[float] = 10.0

    def __init__(self, app_name: str, task: TaskSpec, logger: logging.Logger) -> None:
        self.app_name = app_name
        self.task = task
        self.task_name = task.name
        self.source_name = task.source.name if task.source is not None else None
        self.logger = logger
        self.max_attempts = _max_attempts(task)
        # the successes counted since the last summary line
        self._count = 0
        self._duration_sum_s = 0.0
        self._duration_max_s = 0.0
        self._since = 0.0
        self._summary_timer: asyncio.TimerHandle | None = None

    # -- the outcomes ---------------------------------------------------------------------
    def succeeded(self, delivery: Delivery, started_at: float) -> None:
        successes = OutcomeLog.successes
        if successes == "none" or not self.logger.isEnabledFor(logging.INFO):
            return  # the common case of a quiet app: no line to build
        duration_s = time.perf_counter() - started_at
        if successes == "each":
            self._log(logging.INFO, "succeeded", "succeeded", ACK, delivery, duration_s)
            return
        if not self._count:
            self._since = time.monotonic()
            self._summary_timer = asyncio.get_running_loop().call_later(
                OutcomeLog.summary_interval_s, self.flush_summary
            )
        self._count += 1
        self._duration_sum_s += duration_s
        if duration_s > self._duration_max_s:
            self._duration_max_s = duration_s

    def flush_summary(self) -> None:
        """Log the successes counted so far, if any (the runner calls it as it stops)."""
        if self._summary_timer is not None:
            self._summary_timer.cancel()
            self._summary_timer = None
        count = self._count
        if not count:
            return
        window_s = time.monotonic() - self._since
        average_s, longest_s = self._duration_sum_s / count, self._duration_max_s
        self._count, self._duration_sum_s, self._duration_max_s = 0, 0.0, 0.0
        self.logger.info(
            "task %s: %s succeeded in the last %s (%s on average, longest %s)",
            self.task_name, f"{count:,}", _seconds(window_s), _duration(average_s), _duration(longest_s),
            extra={
                "event_kind": "succeeded_summary", "app_name": self.app_name, "task_name": self.task_name,
                "source_name": self.source_name, "succeeded_count": count, "window_s": window_s,
                "duration_avg_s": average_s, "duration_max_s": longest_s,
            },
        )  # fmt: skip

    def retrying(
        self,
        delivery: Delivery,
        exc: BaseException,
        failure: FailureInfo,
        delay_s: float | None,
        duration_s: float,
        *,
        why: str = "",
    ) -> None:
        """An expected retry: WARNING without traceback, the traceback at DEBUG."""
        retry = f"retry in {_seconds(delay_s)}" if delay_s else "retry now"
        what = f"failed ({self._summary(failure)}), {retry}{why}"
        extra = self._log(
            logging.WARNING, what, "retried", RETRY, delivery, duration_s, failure=failure, delay_s=delay_s
        )
        if extra is not None and self.logger.isEnabledFor(logging.DEBUG):
            # Identifies the run but has no event_kind/decision: counting outcome lines
            # in JSON logs must not count a retry twice.
            keys = ("app_name", "task_name", "source_name", "delivery_id", "attempt")
            self.logger.debug(
                "task %s failure traceback: %s",
                self.task_name,
                self._where(delivery),
                exc_info=exc,
                extra={key: extra[key] for key in keys},
            )

    def gave_up(
        self,
        delivery: Delivery,
        exc: BaseException | None,
        failure: FailureInfo,
        decision: str,
        duration_s: float | None,
        *,
        what: str = "",
    ) -> None:
        """A terminal failure (``decision`` dead_letter or fail, or retry when dead-lettering
        it failed): ERROR, with the traceback when there is one."""
        if decision == RETRY:  # dead-lettering it failed; the error was logged just before
            outcome = "handed back for a retry (see the error before)"
        else:
            outcome = _TERMINAL_WORDS.get(decision, decision)
        what = what or f"failed ({self._summary(failure)})"
        event_kind = "retried" if decision == RETRY else "failed"
        self._log(
            logging.ERROR,
            f"{what}, {outcome}",
            event_kind,
            decision,
            delivery,
            duration_s,
            failure=failure,
            exc_info=exc,
        )

    def cancelled(self, delivery: Delivery, failure: FailureInfo, duration_s: float) -> None:
        self._log(
            logging.WARNING,
            "cancelled by shutdown, handed back for a retry",
            "cancelled",
            RETRY,
            delivery,
            duration_s,
            failure=failure,
        )

    # -- the line -------------------------------------------------------------------------
    def _summary(self, failure: FailureInfo) -> str:
        message = (failure.message.strip().splitlines() or [""])[0]
        if not message and failure.kind is FailureKind.TIMEOUT and self.task.timeout_s is not None:
            message = f"no result within timeout_s={self.task.timeout_s:g}"
        if len(message) > _SUMMARY_MAX_CHARS:
            message = message[: _SUMMARY_MAX_CHARS - 3] + "..."
        return f"{failure.exception_type}: {message}" if message else failure.exception_type

    def _attempt(self, delivery: Delivery) -> str:
        attempt = delivery.envelope.attempts + 1
        return f"attempt {attempt}/{self.max_attempts}" if self.max_attempts else f"attempt {attempt}"

    def _where(self, delivery: Delivery, duration_s: float | None = None) -> str:
        ident = delivery_id(delivery)
        parts = [f"{ident[0]} {ident[1]}"] if ident is not None else []
        parts.append(self._attempt(delivery))
        if duration_s is not None:
            parts.append(_duration(duration_s))
        return ", ".join(parts)

    def _log(
        self,
        level: int,
        what: str,
        event_kind: str,
        decision: str,
        delivery: Delivery,
        duration_s: float | None,
        *,
        failure: FailureInfo | None = None,
        delay_s: float | None = None,
        exc_info: BaseException | None = None,
    ) -> dict[str, Any] | None:
        if not self.logger.isEnabledFor(level):
            return None
        ident = delivery_id(delivery)
        attempts = delivery.envelope.attempts
        extra: dict[str, Any] = {
            "event_kind": event_kind,
            "app_name": self.app_name,
            "task_name": self.task_name,
            "source_name": self.source_name,
            "delivery_id": ident[1] if ident is not None else None,
            "decision": decision,
            "attempts": attempts,
            "attempt": attempts + 1,
            "max_attempts": self.max_attempts,
            "duration_s": duration_s,
            "retry_delay_s": delay_s,
            "failure_kind": failure.kind.value if failure is not None else None,
            "failure_exception_type": failure.exception_type if failure is not None else None,
            "failure_message": failure.message if failure is not None else None,
        }
        self.logger.log(
            level, "task %s %s: %s", self.task_name, what, self._where(delivery, duration_s),
            exc_info=exc_info, extra=extra,
        )  # fmt: skip
        return extra
