"""DatabaseDeadLetters as a Sink (any source) and as a Source (replay/discard)."""

from __future__ import annotations

import pytest

from django_onestep.core.envelope import Envelope
from django_onestep.models import DeadLetter
from django_onestep.orm.dead_letters import DatabaseDeadLetters
from tests.django.dbqueue_helpers import orm

pytestmark = pytest.mark.django_db(transaction=True)


def dead_letter_envelope(payload: object, task: str = "t1") -> Envelope:
    """The envelope onestep's runner sends to a dead-letter sink."""
    return Envelope(
        body={
            "payload": payload,
            "failure": {
                "kind": "timeout",
                "exception_type": "TimeoutError",
                "message": "",
                "traceback": "Traceback ...",
            },
        },
        meta={
            "app": "a1",
            "task": task,
            "source": "redis:orders",
            "original_meta": {"k": 1},
            "original_attempts": 4,
        },
    )


def rows() -> list[dict[str, object]]:
    return list(DeadLetter.objects.order_by("id").values())


async def test_send_stores_one_row_with_every_field() -> None:
    sink = DatabaseDeadLetters(task="t1", app_name="a1")
    try:
        await sink.send(dead_letter_envelope({"order": 1}))
    finally:
        await sink.close()
    (row,) = await orm(rows)()
    assert row["payload"] == {"order": 1}
    assert (row["app"], row["task"], row["source"]) == ("a1", "t1", "redis:orders")
    assert (row["failure_kind"], row["exception_type"], row["message"]) == ("timeout", "TimeoutError", "")
    assert (row["traceback"], row["original_meta"], row["attempts"]) == ("Traceback ...", {"k": 1}, 4)
    assert row["status"] == "pending" and row["job_id"] is None
    assert row["first_failed_at"] == row["last_failed_at"]


async def test_fetch_is_scoped_to_the_task_and_rebuilds_onestep_envelopes() -> None:
    sink = DatabaseDeadLetters()
    for n, task in enumerate(["t1", "t2", "t1"]):
        await sink.send(dead_letter_envelope({"n": n}, task=task))
    t1 = DatabaseDeadLetters(task="t1", app_name="a1")
    try:
        first, second = await t1.fetch(10)
        assert await t1.fetch(10) == []  # claimed: a concurrent replay gets nothing
        assert first.envelope.body["payload"] == {"n": 0} and second.envelope.body["payload"] == {"n": 2}
        assert first.envelope.meta["original_meta"] == {"k": 1}
        assert first.envelope.meta["original_attempts"] == 4
        assert first.envelope.body["failure"]["kind"] == "timeout"
        await first.ack()
        await second.retry()
        statuses = await orm(lambda: list(DeadLetter.objects.order_by("id").values_list("task", "status")))()
        assert statuses == [("t1", "resolved"), ("t2", "pending"), ("t1", "pending")]
        (again,) = await t1.fetch(10)
        assert again.envelope.body["payload"] == {"n": 2}
        await again.release_unstarted()
    finally:
        await sink.close()
        await t1.close()


def test_foreign_envelope_is_kept_whole() -> None:
    sink = DatabaseDeadLetters(task="t9")
    row_id = sink.store_sync(Envelope(body=["not", "a", "dead-letter body"], attempts=2))
    row = DeadLetter.objects.get(id=row_id)
    assert (row.payload, row.task, row.attempts, row.failure_kind) == (
        ["not", "a", "dead-letter body"],
        "t9",
        2,
        "",
    )
