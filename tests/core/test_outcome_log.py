"""The one log line per settled delivery (logger ``onestep.<app>.<task>``)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from django_onestep import Envelope, MaxAttempts, MemoryQueue, OneStepApp
from django_onestep.core.base import Delivery, Source
from django_onestep.core.runtime.memory import MemoryDelivery
from django_onestep.core.runtime.outcome_log import delivery_id

from .conftest import serve_idle

EXTRA_FIELDS = (
    "event_kind",
    "app_name",
    "task_name",
    "source_name",
    "delivery_id",
    "decision",
    "attempts",
    "attempt",
    "max_attempts",
    "duration_s",
    "retry_delay_s",
    "failure_kind",
    "failure_exception_type",
    "failure_message",
)


class JobDelivery(Delivery):
    """A delivery with a ``job_id``, like the database queue's."""

    def __init__(self, job_id: int, body: object, attempts: int = 0) -> None:
        super().__init__(Envelope(body=body, attempts=attempts))
        self.job_id = job_id
        self.settled_as: list[str] = []

    async def ack(self) -> None:
        self.settled_as.append("ack")

    async def retry(self, *, delay_s: float | None = None) -> None:
        self.settled_as.append(f"retry {delay_s}")

    async def fail(self, exc: Exception | None = None) -> None:
        self.settled_as.append("fail")


class OnceSource(Source):
    """Hands out the given deliveries once, then nothing."""

    def __init__(self, deliveries: list[Delivery]) -> None:
        super().__init__("jobs")
        self.deliveries = deliveries
        self.poll_interval_s = 0.01

    async def fetch(self, limit: int) -> list[Delivery]:
        batch, self.deliveries = self.deliveries[:limit], self.deliveries[limit:]
        return batch


def fields(record: logging.LogRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in EXTRA_FIELDS}


def task_records(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger]


async def test_success_is_one_info_line_naming_job_attempt_and_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = OneStepApp("shop")

    @app.task(source=OnceSource([JobDelivery(42, {"to": "a@example.com"})]), retry=MaxAttempts(3))
    async def send_email(ctx, payload):
        return None

    with caplog.at_level(logging.INFO, logger="onestep.shop.send_email"):
        await serve_idle(app)
    [record] = task_records(caplog, "onestep.shop.send_email")
    assert record.levelno == logging.INFO
    assert record.exc_info is None
    message = record.getMessage()
    assert message.startswith("task send_email succeeded: job 42, attempt 1/3, ")
    assert message.endswith(" ms")
    got = fields(record)
    duration_s = got.pop("duration_s")
    assert isinstance(duration_s, float) and 0 <= duration_s < 10
    assert got == {
        "event_kind": "succeeded",
        "app_name": "shop",
        "task_name": "send_email",
        "source_name": "jobs",
        "delivery_id": 42,
        "decision": "ack",
        "attempts": 0,
        "attempt": 1,
        "max_attempts": 3,
        "retry_delay_s": None,
        "failure_kind": None,
        "failure_exception_type": None,
        "failure_message": None,
    }


async def test_expected_retry_is_one_warning_line_without_traceback(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("shop")
    delivery = JobDelivery(42, {}, attempts=1)

    @app.task(source=OnceSource([delivery]), retry=MaxAttempts(3, delay_s=2))
    async def send_email(ctx, payload):
        raise ValueError("boom\nsecond line")

    with caplog.at_level(logging.INFO, logger="onestep.shop.send_email"):
        await serve_idle(app)
    assert delivery.settled_as == ["retry 2.0"]
    [record] = task_records(caplog, "onestep.shop.send_email")
    assert record.levelno == logging.WARNING
    assert record.exc_info is None  # no traceback for an expected retry
    assert record.getMessage().startswith(
        "task send_email failed (ValueError: boom), retry in 2 s: job 42, attempt 2/3, "
    )
    got = fields(record)
    assert (got["event_kind"], got["decision"], got["retry_delay_s"]) == ("retried", "retry", 2.0)
    assert (got["attempts"], got["attempt"], got["max_attempts"]) == (1, 2, 3)
    assert (got["failure_kind"], got["failure_exception_type"], got["failure_message"]) == (
        "error",
        "ValueError",
        "boom\nsecond line",
    )


async def test_retry_traceback_is_a_debug_record(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("shop")

    @app.task(source=OnceSource([JobDelivery(7, {})]), retry=MaxAttempts(2))
    async def send_email(ctx, payload):
        raise ValueError("boom")

    with caplog.at_level(logging.DEBUG, logger="onestep.shop.send_email"):
        await serve_idle(app)
    warning, debug = task_records(caplog, "onestep.shop.send_email")
    assert warning.levelno == logging.WARNING and warning.exc_info is None
    assert warning.getMessage().startswith("task send_email failed (ValueError: boom), retry now: job 7, ")
    assert debug.levelno == logging.DEBUG
    assert debug.getMessage() == "task send_email failure traceback: job 7, attempt 1/2"
    assert debug.exc_info is not None and str(debug.exc_info[1]) == "boom"
    # identifies the run, but is not a second outcome record
    assert (debug.task_name, debug.delivery_id, debug.attempt) == ("send_email", 7, 1)  # type: ignore[attr-defined]
    assert not hasattr(debug, "decision") and not hasattr(debug, "event_kind")


async def test_terminal_failure_is_an_error_with_traceback(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("shop")
    dead = MemoryQueue("dead")

    @app.task(source=OnceSource([JobDelivery(42, {}, attempts=2)]), retry=MaxAttempts(3), dead_letter=dead)
    async def send_email(ctx, payload):
        raise ValueError("boom")

    with caplog.at_level(logging.DEBUG, logger="onestep.shop.send_email"):
        await serve_idle(app)
    [record] = task_records(caplog, "onestep.shop.send_email")
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith(
        "task send_email failed (ValueError: boom), dead-lettered: job 42, attempt 3/3, "
    )
    assert record.exc_info is not None and str(record.exc_info[1]) == "boom"
    got = fields(record)
    assert (got["event_kind"], got["decision"], got["failure_exception_type"]) == (
        "failed",
        "dead_letter",
        "ValueError",
    )
    assert len(dead.drain_nowait()) == 1


async def test_terminal_failure_without_dead_letter_sink(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("shop")
    delivery = JobDelivery(5, {})

    @app.task(source=OnceSource([delivery]))  # NoRetry: one attempt
    async def send_email(ctx, payload):
        raise KeyError("to")

    with caplog.at_level(logging.INFO, logger="onestep.shop.send_email"):
        await serve_idle(app)
    assert delivery.settled_as == ["fail"]
    [record] = task_records(caplog, "onestep.shop.send_email")
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.getMessage().startswith(
        "task send_email failed (KeyError: 'to'), not retried: job 5, attempt 1/1, "
    )
    assert fields(record)["decision"] == "fail"


async def test_dead_letter_publish_failure_says_the_item_was_handed_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BrokenSink(MemoryQueue):
        async def send(self, envelope: Envelope) -> None:
            raise RuntimeError("dead-letter store is down")

    app = OneStepApp("shop")
    delivery = JobDelivery(9, {})

    @app.task(source=OnceSource([delivery]), dead_letter=BrokenSink("dead"))
    async def send_email(ctx, payload):
        raise ValueError("boom")

    with caplog.at_level(logging.INFO, logger="onestep.shop.send_email"):
        await serve_idle(app)
    assert delivery.settled_as == ["retry None"]
    outcome = task_records(caplog, "onestep.shop.send_email")[-1]
    assert outcome.levelno == logging.ERROR and outcome.exc_info is not None
    assert outcome.getMessage().startswith(
        "task send_email failed (ValueError: boom), handed back for a retry (see the error before): job 9, "
    )
    assert (fields(outcome)["event_kind"], fields(outcome)["decision"]) == ("retried", "retry")


async def test_timeout_summary_names_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("shop")

    @app.task(source=OnceSource([JobDelivery(1, {})]), timeout_s=0.05)
    async def slow(ctx, payload):
        await asyncio.sleep(10)

    with caplog.at_level(logging.INFO, logger="onestep.shop.slow"):
        await serve_idle(app)
    [record] = task_records(caplog, "onestep.shop.slow")
    assert record.getMessage().startswith(
        "task slow failed (TimeoutError: no result within timeout_s=0.05), not retried: job 1, attempt 1/1, "
    )
    assert fields(record)["failure_kind"] == "timeout"


async def test_poison_message_line(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("shop")
    dead = MemoryQueue("dead")
    poisoned = JobDelivery(3, b"\xff", attempts=4)
    poisoned.poison_reason = "undecodable body"
    ran: list[object] = []

    @app.task(source=OnceSource([poisoned]), dead_letter=dead)
    async def send_email(ctx, payload):
        ran.append(payload)

    with caplog.at_level(logging.INFO, logger="onestep.shop.send_email"):
        await serve_idle(app)
    assert ran == []
    [record] = task_records(caplog, "onestep.shop.send_email")
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        "task send_email skipped a poison message (undecodable body), dead-lettered: job 3, attempt 5/1"
    )
    got = fields(record)
    assert (got["failure_exception_type"], got["failure_message"], got["decision"]) == (
        "PoisonMessageError",
        "undecodable body",
        "dead_letter",
    )


async def test_cancelled_at_shutdown_line(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("sd", shutdown_timeout_s=0.2)
    queue = MemoryQueue("in")
    started = asyncio.Event()

    @app.task(source=queue, retry=MaxAttempts(5))
    async def stuck(ctx, item):
        started.set()
        await asyncio.sleep(60)

    await queue.publish({"job": 1})
    with caplog.at_level(logging.INFO, logger="onestep.sd.stuck"):
        serving = asyncio.create_task(app.serve())
        await asyncio.wait_for(started.wait(), 10)
        app.request_shutdown()
        await asyncio.wait_for(serving, 20)
    [record] = [r for r in task_records(caplog, "onestep.sd.stuck") if hasattr(r, "decision")]
    assert record.levelno == logging.WARNING and record.exc_info is None
    # a MemoryQueue item has no id: the line starts at the attempt
    assert record.getMessage().startswith(
        "task stuck cancelled by shutdown, handed back for a retry: attempt 1/5, "
    )
    got = fields(record)
    assert (got["event_kind"], got["decision"], got["failure_kind"], got["delivery_id"]) == (
        "cancelled",
        "retry",
        "cancelled",
        None,
    )


async def test_quiet_logger_builds_no_line(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("shop")

    @app.task(source=OnceSource([JobDelivery(1, {})]))
    async def send_email(ctx, payload):
        return None

    with caplog.at_level(logging.WARNING, logger="onestep.shop.send_email"):
        await serve_idle(app)
    assert task_records(caplog, "onestep.shop.send_email") == []


def test_delivery_id_reads_the_transports_public_ids() -> None:
    class EntryDelivery(JobDelivery):  # like Redis: entry_id
        def __init__(self) -> None:
            super().__init__(0, {})
            del self.job_id
            self.entry_id = "1712-0"

    class MessageDelivery(JobDelivery):  # like SQS: message_id
        def __init__(self) -> None:
            super().__init__(0, {})
            del self.job_id
            self.message_id = "m-1"

    assert delivery_id(JobDelivery(42, {})) == ("job", 42)
    assert delivery_id(EntryDelivery()) == ("entry", "1712-0")
    assert delivery_id(MessageDelivery()) == ("message", "m-1")
    assert delivery_id(MemoryDelivery(MemoryQueue("q"), Envelope(body=1))) is None


@pytest.fixture
def summarised_successes(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_onestep.core.runtime.outcome_log import OutcomeLog

    monkeypatch.setattr(OutcomeLog, "successes", "summary")
    monkeypatch.setattr(OutcomeLog, "summary_interval_s", 0.2)


@pytest.mark.usefixtures("summarised_successes")
async def test_summary_mode_counts_successes_into_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = OneStepApp("shop")
    queue = MemoryQueue("mail")
    first_window_logged = asyncio.Event()

    @app.task(source=queue, concurrency=4)
    async def send_email(ctx, payload):
        if payload == "later":
            await first_window_logged.wait()
        return None

    for _ in range(5):
        queue.put_nowait("now")
    queue.put_nowait("later")

    class OnFirstLine(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            first_window_logged.set()  # the held job may finish now: it falls in the next window

    logger = logging.getLogger("onestep.shop.send_email")
    on_first_line = OnFirstLine()
    logger.addHandler(on_first_line)
    try:
        with caplog.at_level(logging.INFO, logger="onestep.shop.send_email"):
            await serve_idle(app)
    finally:
        logger.removeHandler(on_first_line)
    first, last = task_records(caplog, "onestep.shop.send_email")
    assert first.levelno == logging.INFO
    # the interval's timer wrote the first; the runner's stop flushed the one counted since
    assert first.getMessage().startswith("task send_email: 5 succeeded in the last 0.2")
    assert " on average, longest " in first.getMessage()
    assert last.getMessage().startswith("task send_email: 1 succeeded in the last ")
    assert (first.event_kind, first.task_name, first.succeeded_count) == (
        "succeeded_summary",
        "send_email",
        5,
    )
    assert 0 <= first.duration_avg_s <= first.duration_max_s < 10
    assert not any(getattr(r, "decision", None) == "ack" for r in caplog.records)  # no line per success


@pytest.mark.usefixtures("summarised_successes")
async def test_summary_mode_still_logs_every_retry(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("shop")
    delivery = JobDelivery(42, {}, attempts=1)

    @app.task(source=OnceSource([delivery]), retry=MaxAttempts(3, delay_s=2))
    async def send_email(ctx, payload):
        raise ValueError("boom")

    with caplog.at_level(logging.INFO, logger="onestep.shop.send_email"):
        await serve_idle(app)
    [record] = task_records(caplog, "onestep.shop.send_email")
    assert record.getMessage().startswith("task send_email failed (ValueError: boom), retry in 2 s: job 42")


async def test_none_mode_logs_no_success(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_onestep.core.runtime.outcome_log import OutcomeLog

    monkeypatch.setattr(OutcomeLog, "successes", "none")
    app = OneStepApp("shop")

    @app.task(source=OnceSource([JobDelivery(42, {})]))
    async def send_email(ctx, payload):
        return None

    with caplog.at_level(logging.INFO, logger="onestep.shop.send_email"):
        await serve_idle(app)
    assert task_records(caplog, "onestep.shop.send_email") == []
