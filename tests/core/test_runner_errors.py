"""Connector errors, sink retries, poison deliveries, atomic dead-lettering, log records."""

from __future__ import annotations

import asyncio
import logging

import pytest

from django_onestep import (
    ConnectorOperationError,
    Envelope,
    MemoryQueue,
    OneStepApp,
)
from django_onestep.core.base import Delivery, Sink, Source

from .conftest import EventLog, serve_idle


class ListDelivery(Delivery):
    def __init__(self, envelope: Envelope, log: list[str]) -> None:
        super().__init__(envelope)
        self.log = log

    async def ack(self) -> None:
        self.log.append(f"ack {self.payload}")

    async def retry(self, *, delay_s: float | None = None) -> None:
        self.log.append(f"retry {self.payload}")

    async def fail(self, exc: Exception | None = None) -> None:
        self.log.append(f"fail {self.payload}")


class ScriptedSource(Source):
    """fetch() returns (or raises) the scripted results in order, then []."""

    def __init__(self, script: list[object]) -> None:
        super().__init__("scripted")
        self.script = script
        self.poll_interval_s = 0.01

    async def fetch(self, limit: int) -> list[Delivery]:
        if not self.script:
            return []
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        assert isinstance(step, list)
        return step


async def test_retryable_fetch_error_is_logged_and_backed_off(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    error = ConnectorOperationError(
        backend="redis", operation="fetch", kind="disconnected", source_name="scripted", retry_delay_s=0.05
    )
    source = ScriptedSource([error, [ListDelivery(Envelope(body="a"), log)]])
    app = OneStepApp("fe")

    @app.task(source=source)
    async def work(ctx, item): ...

    with caplog.at_level(logging.WARNING, logger="onestep.fe.work"):
        await serve_idle(app)
    assert log == ["ack a"]
    [record] = [r for r in caplog.records if r.getMessage() == "source fetch degraded; backing off"]
    assert record.levelno == logging.WARNING
    assert (
        record.connector_backend,  # type: ignore[attr-defined]
        record.connector_operation,  # type: ignore[attr-defined]
        record.connector_kind,  # type: ignore[attr-defined]
        record.connector_retry_delay_s,  # type: ignore[attr-defined]
    ) == ("redis", "fetch", "disconnected", 0.05)


async def test_an_outage_logs_one_traceback_then_counts_and_reports_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []

    def outage() -> ConnectorOperationError:
        return ConnectorOperationError(
            backend="redis", operation="fetch", kind="disconnected", retry_delay_s=0.0
        )

    source = ScriptedSource([outage(), outage(), outage(), [ListDelivery(Envelope(body="a"), log)]])
    app = OneStepApp("outage")

    @app.task(source=source)
    async def work(ctx, item): ...

    with caplog.at_level(logging.WARNING, logger="onestep.outage.work"):
        await serve_idle(app)
    assert log == ["ack a"]
    degraded = [r for r in caplog.records if r.getMessage() == "source fetch degraded; backing off"]
    assert [r.failed_fetch_count for r in degraded] == [1, 2, 3]  # type: ignore[attr-defined]
    assert [r.exc_info is not None for r in degraded] == [True, False, False]
    [recovered] = [r for r in caplog.records if r.getMessage() == "source fetch recovered"]
    assert recovered.failed_fetch_count == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["misconfigured", "permanent"])
async def test_non_retryable_fetch_error_ends_serve_with_that_error(kind: str) -> None:
    error = ConnectorOperationError(backend="sqs", operation="fetch", kind=kind)
    app = OneStepApp("fe")
    closed: list[str] = []

    class Src(ScriptedSource):
        async def close(self) -> None:
            closed.append("closed")

    @app.task(source=Src([error]))
    async def work(ctx, item): ...

    with pytest.raises(ConnectorOperationError) as raised:
        await asyncio.wait_for(app.serve(), 10)
    assert raised.value is error
    assert closed == ["closed"]


async def test_other_fetch_exception_ends_serve_and_stops_other_runners() -> None:
    app = OneStepApp("fe")
    other = MemoryQueue("other")

    @app.task(source=ScriptedSource([KeyError("schema")]))
    async def broken(ctx, item): ...

    @app.task(source=other)
    async def fine(ctx, item): ...

    with pytest.raises(KeyError, match="schema"):
        await asyncio.wait_for(app.serve(), 10)
    assert app.runtime_status()["serving"] is False


class FlakySink(Sink):
    def __init__(self, failures: list[BaseException]) -> None:
        super().__init__("flaky")
        self.failures = failures
        self.sent: list[object] = []

    async def send(self, envelope: Envelope) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(envelope.body)


def _transient() -> ConnectorOperationError:
    return ConnectorOperationError(backend="http", operation="send", kind="transient", retry_delay_s=0)


async def test_sink_send_retryable_error_is_retried_once(events: EventLog) -> None:
    app = OneStepApp("sk")
    app.on_event(events)
    queue, sink = MemoryQueue("in"), FlakySink([_transient()])

    @app.task(source=queue, emit=sink)
    async def work(ctx, item):
        return item

    await queue.publish("x")
    await serve_idle(app)
    assert sink.sent == ["x"]
    assert events.kinds() == ["fetched", "started", "succeeded"]


async def test_sink_send_failing_twice_fails_the_delivery(events: EventLog) -> None:
    app = OneStepApp("sk")
    app.on_event(events)
    queue, sink = MemoryQueue("in"), FlakySink([_transient(), _transient()])

    @app.task(source=queue, emit=sink)
    async def work(ctx, item):
        return item

    await queue.publish("x")
    await serve_idle(app)
    assert sink.sent == []
    assert events.kinds() == ["fetched", "started", "failed"]
    assert events.events[-1].failure is not None
    assert events.events[-1].failure.exception_type == "ConnectorOperationError"


async def test_sink_send_non_retryable_error_is_not_retried() -> None:
    app = OneStepApp("sk")
    queue = MemoryQueue("in")
    permanent = ConnectorOperationError(backend="http", operation="send", kind="permanent")
    sink = FlakySink([permanent])

    @app.task(source=queue, emit=sink)
    async def work(ctx, item):
        return item

    await queue.publish("x")
    await serve_idle(app)
    assert sink.sent == []
    assert sink.failures == []


async def test_sink_send_succeeded_debug_record(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("sk")
    queue, out = MemoryQueue("in"), MemoryQueue("out")

    @app.task(source=queue, emit=out)
    async def work(ctx, item):
        return item

    await queue.publish("x", attempts=2)
    with caplog.at_level(logging.DEBUG, logger="onestep.sk.work"):
        await serve_idle(app)
    [record] = [r for r in caplog.records if r.getMessage() == "sink send succeeded"]
    assert record.name == "onestep.sk.work"
    assert record.levelno == logging.DEBUG
    assert (record.sink_name, record.sink_kind, record.delivery_attempts) == ("out", "MemoryQueue", 0)  # type: ignore[attr-defined]
    assert record.connector_backend is None  # type: ignore[attr-defined]


async def test_task_failure_is_logged_on_task_logger(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("lg")
    queue = MemoryQueue("in")

    @app.task(source=queue)
    async def work(ctx, item):
        raise RuntimeError("kaput")

    await queue.publish(1)
    with caplog.at_level(logging.ERROR, logger="onestep.lg.work"):
        await serve_idle(app)
    [record] = [
        r for r in caplog.records if r.getMessage().startswith("task work failed (RuntimeError: kaput)")
    ]
    assert record.name == "onestep.lg.work"
    assert record.failure_kind == "error"  # type: ignore[attr-defined]
    assert record.exc_info is not None and str(record.exc_info[1]) == "kaput"


async def test_poison_delivery_is_dead_lettered_without_running(events: EventLog) -> None:
    log: list[str] = []
    poisoned = ListDelivery(Envelope(body=b"\xff", meta={"id": 7}, attempts=4), log)
    poisoned.poison_reason = "undecodable body"
    app = OneStepApp("po")
    app.on_event(events)
    dead = MemoryQueue("dead")
    ran: list[object] = []

    @app.task(source=ScriptedSource([[poisoned]]), dead_letter=dead)
    async def work(ctx, item):
        ran.append(item)

    await serve_idle(app)
    assert ran == []
    assert events.kinds() == ["fetched", "dead_lettered", "failed"]
    assert log == ["fail b'\\xff'"]
    [stored] = dead.drain_nowait()
    assert stored.body == {
        "payload": b"\xff",
        "failure": {"kind": "error", "exception_type": "PoisonMessageError", "message": "undecodable body"},
    }
    assert stored.meta == {
        "app": "po",
        "task": "work",
        "source": "scripted",
        "original_meta": {"id": 7},
        "original_attempts": 4,
    }


async def test_fail_to_dead_letter_true_skips_send_and_fail(events: EventLog) -> None:
    log: list[str] = []

    class AtomicDelivery(ListDelivery):
        async def fail_to_dead_letter(self, sink: Sink, envelope: Envelope) -> bool:
            log.append(f"atomic {sink.name} {envelope.body['payload']}")
            return True

    app = OneStepApp("at")
    app.on_event(events)
    dead = FlakySink([])

    @app.task(source=ScriptedSource([[AtomicDelivery(Envelope(body="j"), log)]]), dead_letter=dead)
    async def work(ctx, item):
        raise RuntimeError("x")

    await serve_idle(app)
    assert log == ["atomic flaky j"]
    assert dead.sent == []
    assert events.kinds() == ["fetched", "started", "dead_lettered", "failed"]


async def test_fail_to_dead_letter_false_sends_then_fails() -> None:
    log: list[str] = []
    app = OneStepApp("at")
    dead = FlakySink([])

    @app.task(source=ScriptedSource([[ListDelivery(Envelope(body="j"), log)]]), dead_letter=dead)
    async def work(ctx, item):
        raise RuntimeError("x")

    await serve_idle(app)
    assert log == ["fail j"]
    assert [body["payload"] for body in dead.sent] == ["j"]  # type: ignore[index]


async def test_failing_fail_action_retries_the_original() -> None:
    log: list[str] = []

    class BadFail(ListDelivery):
        async def fail(self, exc: Exception | None = None) -> None:
            raise ConnectionError("lost connection")

    app = OneStepApp("ff")

    @app.task(source=ScriptedSource([[BadFail(Envelope(body="k"), log)]]))
    async def work(ctx, item):
        raise RuntimeError("x")

    await serve_idle(app)
    assert log == ["retry k"]


async def test_start_processing_error_is_a_normal_failure(events: EventLog) -> None:
    log: list[str] = []

    class LeaseLost(ListDelivery):
        async def start_processing(self) -> None:
            raise ConnectionError("lease lost")

    app = OneStepApp("sp")
    app.on_event(events)
    ran: list[object] = []

    @app.task(source=ScriptedSource([[LeaseLost(Envelope(body="z"), log)]]))
    async def work(ctx, item):
        ran.append(item)

    await serve_idle(app)
    assert ran == []
    assert log == ["fail z"]
    assert events.kinds() == ["fetched", "failed"]
    assert events.events[-1].failure is not None
    assert events.events[-1].failure.message == "lease lost"


async def test_transient_dead_letter_write_is_written_again_and_the_handler_runs_once(
    events: EventLog,
) -> None:
    log: list[str] = []
    app = OneStepApp("tw")
    app.on_event(events)
    dead = FlakySink([_transient(), _transient()])
    runs: list[object] = []

    @app.task(source=ScriptedSource([[ListDelivery(Envelope(body="j"), log)]]), dead_letter=dead)
    async def work(ctx, item):
        runs.append(item)
        raise RuntimeError("x")

    await serve_idle(app)
    assert runs == ["j"]
    assert [body["payload"] for body in dead.sent] == ["j"]  # type: ignore[index]
    assert log == ["fail j"]  # never "retry j": that would run the handler again
    assert events.kinds() == ["fetched", "started", "dead_lettered", "failed"]


async def test_transient_atomic_dead_letter_and_fail_writes_are_written_again() -> None:
    log: list[str] = []

    class LockedOnce(ListDelivery):
        async def fail_to_dead_letter(self, sink: Sink, envelope: Envelope) -> bool:
            if log.count("locked") < 2:
                log.append("locked")
                raise _transient()
            log.append("atomic")
            return True

    class FailLockedOnce(ListDelivery):
        async def fail(self, exc: Exception | None = None) -> None:
            if "fail locked" not in log:
                log.append("fail locked")
                raise _transient()
            await super().fail(exc)

    app = OneStepApp("tw")
    deliveries = [LockedOnce(Envelope(body="a"), log), FailLockedOnce(Envelope(body="b"), log)]

    @app.task(source=ScriptedSource([[deliveries[0]]]), dead_letter=FlakySink([]))
    async def atomic(ctx, item):
        raise RuntimeError("x")

    @app.task(source=ScriptedSource([[deliveries[1]]]))
    async def plain(ctx, item):
        raise RuntimeError("x")

    await serve_idle(app)
    assert sorted(log) == sorted(["locked", "locked", "atomic", "fail locked", "fail b"])
    assert not any(line.startswith("retry") for line in log)


async def test_terminal_write_failing_every_time_hands_the_item_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django_onestep.core.runtime import executor

    monkeypatch.setattr(executor, "_TERMINAL_WRITE_DELAYS_S", (0.0, 0.0))
    log: list[str] = []
    dead = FlakySink([_transient(), _transient(), _transient()])
    app = OneStepApp("tw")

    @app.task(source=ScriptedSource([[ListDelivery(Envelope(body="j"), log)]]), dead_letter=dead)
    async def work(ctx, item):
        raise RuntimeError("x")

    await serve_idle(app)
    assert dead.failures == [] and dead.sent == []  # three tries: the first and two again
    assert log == ["retry j"]  # the outcome could not be stored: the item is not lost
