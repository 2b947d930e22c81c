"""TaskEvent fields and StructuredEventLogger records."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from django_onestep import (
    FailureInfo,
    FailureKind,
    MemoryQueue,
    OneStepApp,
    StructuredEventLogger,
    TaskEvent,
    TaskEventKind,
)

from .conftest import serve_idle


def test_task_event_defaults() -> None:
    event = TaskEvent(kind=TaskEventKind.FETCHED, app="a", task="t", source="s", attempts=0)
    assert event.emitted_at.tzinfo is UTC
    assert (event.duration_s, event.failure, event.meta) == (None, None, {})
    assert [k.value for k in TaskEventKind] == [
        "fetched", "started", "succeeded", "retried", "failed", "dead_lettered", "cancelled",
    ]  # fmt: skip


def test_structured_logger_record_fields(caplog: pytest.LogCaptureFixture) -> None:
    failure = FailureInfo(kind=FailureKind.TIMEOUT, exception_type="TimeoutError", message="")
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    event = TaskEvent(
        kind=TaskEventKind.FAILED,
        app="app1",
        task="t1",
        source="q",
        attempts=2,
        emitted_at=at,
        duration_s=1.5,
        failure=failure,
        meta={"k": "v"},
    )
    with caplog.at_level(logging.DEBUG, logger="onestep.events"):
        StructuredEventLogger()(event)
    [record] = caplog.records
    assert (record.name, record.levelno, record.getMessage()) == (
        "onestep.events",
        logging.ERROR,
        "task failed",
    )
    fields = {
        key: getattr(record, key)
        for key in (
            "event_kind", "app_name", "task_name", "source_name", "attempts", "duration_s", "emitted_at",
            "failure_kind", "failure_exception_type", "failure_message", "task_event_meta",
        )
    }  # fmt: skip
    assert fields == {
        "event_kind": "failed",
        "app_name": "app1",
        "task_name": "t1",
        "source_name": "q",
        "attempts": 2,
        "duration_s": 1.5,
        "emitted_at": "2026-01-02T03:04:05+00:00",
        "failure_kind": "timeout",
        "failure_exception_type": "TimeoutError",
        "failure_message": "",
        "task_event_meta": {"k": "v"},
    }


async def test_structured_logger_levels_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    app = OneStepApp("lv")
    app.on_event(StructuredEventLogger())
    queue, dead = MemoryQueue("in"), MemoryQueue("dead")

    @app.task(source=queue, dead_letter=dead)
    async def work(ctx, item):
        if item == "bad":
            raise RuntimeError("x")

    await queue.publish("ok")
    await queue.publish("bad")
    with caplog.at_level(logging.DEBUG, logger="onestep.events"):
        await serve_idle(app)
    got = [(r.getMessage(), r.levelname) for r in caplog.records if r.name == "onestep.events"]
    assert got == [
        ("task fetched", "DEBUG"),
        ("task started", "DEBUG"),
        ("task succeeded", "INFO"),
        ("task fetched", "DEBUG"),
        ("task started", "DEBUG"),
        ("task dead_lettered", "ERROR"),
        ("task failed", "ERROR"),
    ]
    succeeded = next(r for r in caplog.records if r.getMessage() == "task succeeded")
    assert succeeded.failure_kind is None  # type: ignore[attr-defined]
    assert succeeded.source_name == "in"  # type: ignore[attr-defined]


def test_level_override_and_custom_logger(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("custom.events")
    handler = StructuredEventLogger(logger=logger, level_by_kind={TaskEventKind.SUCCEEDED: logging.WARNING})
    with caplog.at_level(logging.DEBUG, logger="custom.events"):
        handler(TaskEvent(kind=TaskEventKind.SUCCEEDED, app="a", task="t", source=None, attempts=0))
    [record] = caplog.records
    assert (record.name, record.levelno) == ("custom.events", logging.WARNING)


def test_enable_structured_event_logging_is_idempotent() -> None:
    app = OneStepApp("e")
    first = app.enable_structured_event_logging()
    assert app.enable_structured_event_logging() is first
    assert isinstance(first, StructuredEventLogger)
