"""DatabaseQueue driven by the real runtime (OneStepApp.serve), in-process."""

from __future__ import annotations

import pytest

from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import DeadLetter, Job
from django_onestep.orm.dead_letters import DatabaseDeadLetters
from django_onestep.orm.stores import DatabaseStateStore
from tests.django.dbqueue_helpers import job_rows, orm, unique_name

pytestmark = pytest.mark.django_db(transaction=True)


def dead_letters_factory(app: OneStepApp, spec: object) -> DatabaseDeadLetters:
    return DatabaseDeadLetters(app_name=app.name, task=spec.name)  # type: ignore[attr-defined]


def make_app(name: str = "rt") -> OneStepApp:
    return OneStepApp(name, dead_letter_factory=dead_letters_factory, state=DatabaseStateStore())


def dead_letter_rows(task: str) -> list[dict[str, object]]:
    return list(DeadLetter.objects.filter(task=task).order_by("id").values())


async def test_always_failing_job_runs_max_attempts_times_then_one_dead_letter() -> None:
    app = make_app()
    queue = DatabaseQueue(unique_name(), fetch_wait_s=0.05)
    task_name = unique_name("always-fails")
    runs: list[int] = []

    @app.task(name=task_name, source=queue, retry=MaxAttempts(3, delay_s=0.2))
    async def always_fails(ctx, payload):  # type: ignore[no-untyped-def]
        runs.append(ctx.current.attempts)
        raise ValueError(f"bad order {payload['order']}")

    job_id = await orm(queue.send)({"order": 42}, meta={"trace": "t-1"})
    await app.serve(until_idle=True)
    assert runs == [0, 1, 2]
    (job,) = await orm(job_rows)(queue.name)
    assert (job["status"], job["attempts"], job["claim_token"]) == ("dead", 3, None)
    (dead,) = await orm(dead_letter_rows)(task_name)
    assert dead["job_id"] == job_id
    assert dead["payload"] == {"order": 42}
    assert dead["original_meta"] == {"trace": "t-1"}
    assert dead["attempts"] == 2  # onestep's original_attempts: attempts before the last run
    assert (dead["failure_kind"], dead["exception_type"], dead["message"]) == (
        "error",
        "ValueError",
        "bad order 42",
    )
    assert "ValueError: bad order 42" in dead["traceback"]
    assert (dead["app"], dead["source"], dead["status"]) == ("rt", queue.name, "pending")
    assert dead["first_failed_at"] <= dead["last_failed_at"]


async def test_replay_and_discard_dead_letters_through_the_app() -> None:
    app = make_app()
    queue = DatabaseQueue(unique_name(), fetch_wait_s=0.05)
    task_name = unique_name("flaky")
    seen: list[tuple[object, int]] = []
    fail = {"on": True}

    @app.task(name=task_name, source=queue, retry=MaxAttempts(1))
    async def flaky(ctx, payload):  # type: ignore[no-untyped-def]
        seen.append((payload, ctx.current.attempts))
        if fail["on"]:
            raise RuntimeError("down")

    await orm(queue.send_many)(["a", "b"])
    await app.serve(until_idle=True)
    assert await orm(lambda: DeadLetter.objects.filter(task=task_name, status="pending").count())() == 2

    fail["on"] = False
    status = await app.replay_task_dead_letters(task_name, limit=1)
    assert (status["replayed_count"], status["failed_count"], status["completion"]) == (1, 0, "complete")
    status = await app.discard_task_dead_letters(task_name, limit=5)
    assert (status["discarded_count"], status["completion"]) == (1, "complete")
    assert (await app.discard_task_dead_letters(task_name, limit=5))["empty"] is True
    await app.serve(until_idle=True)
    assert seen == [("a", 0), ("b", 0), ("a", 0)]
    statuses = await orm(
        lambda: sorted(DeadLetter.objects.filter(task=task_name).values_list("status", flat=True))
    )()
    assert statuses == ["resolved", "resolved"]
    jobs = await orm(job_rows)(queue.name)
    assert [(j["payload"], j["status"]) for j in jobs] == [("a", "dead"), ("b", "dead"), ("a", "done")]


async def test_poison_job_is_dead_lettered_without_running() -> None:
    app = make_app()
    queue = DatabaseQueue(unique_name(), fetch_wait_s=0.05, max_deliveries=2)
    task_name = unique_name("poison")
    runs: list[object] = []

    @app.task(name=task_name, source=queue)
    async def handler(ctx, payload):  # type: ignore[no-untyped-def]
        runs.append(payload)

    job_id = await orm(queue.send)("boom")
    await orm(Job.objects.filter(id=job_id).update)(reclaims=2, attempts=2)
    await app.serve(until_idle=True)
    assert runs == []
    (job,) = await orm(job_rows)(queue.name)
    assert job["status"] == "dead"
    (dead,) = await orm(dead_letter_rows)(task_name)
    assert dead["exception_type"] == "PoisonMessageError"
    assert "died 2 times" in dead["message"]


async def test_ctx_state_is_stored_in_the_database() -> None:
    app = make_app("state-app")
    queue = DatabaseQueue(unique_name(), fetch_wait_s=0.05)
    task_name = unique_name("counter")

    @app.task(name=task_name, source=queue, concurrency=4)
    async def count(ctx, payload):  # type: ignore[no-untyped-def]
        await ctx.state.save(f"seen-{payload}", {"payload": payload, "attempts": ctx.current.attempts})

    await orm(queue.send_many)([1, 2, 3, 4, 5])
    await app.serve(until_idle=True)
    store = DatabaseStateStore()
    values = [await store.load(f"state-app:{task_name}:seen-{n}") for n in range(1, 6)]
    await store.close()
    assert values == [{"payload": n, "attempts": 0} for n in range(1, 6)]


async def test_transient_settlement_failures_write_again_and_never_run_the_handler_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import OperationalError

    from django_onestep.dbqueue import settle

    real_apply, failures = settle._apply, {"left": 5}

    def locked_five_times(connection, ops, now):  # type: ignore[no-untyped-def]
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("database is locked")
        return real_apply(connection, ops, now)

    monkeypatch.setattr(settle, "_apply", locked_five_times)
    app = make_app()
    queue = DatabaseQueue(unique_name(), fetch_wait_s=0.05)
    task_name = unique_name("settles")
    runs: list[str] = []

    @app.task(name=task_name, source=queue, retry=MaxAttempts(1))
    async def settles(ctx, payload):  # type: ignore[no-untyped-def]
        runs.append(payload)
        if payload == "poison":
            raise ValueError("poison")

    await orm(queue.send_many)(["fine", "poison"])
    await app.serve(until_idle=True)
    assert failures["left"] == 0  # the writes did fail
    assert sorted(runs) == ["fine", "poison"]  # and each handler ran once
    jobs = await orm(job_rows)(queue.name)
    assert [(j["payload"], j["status"], j["attempts"]) for j in jobs] == [
        ("fine", "done", 1),
        ("poison", "dead", 1),
    ]
    assert len(await orm(dead_letter_rows)(task_name)) == 1


async def test_a_settlement_that_is_not_transient_is_not_written_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import IntegrityError

    from django_onestep.core.errors import ConnectorOperationError
    from django_onestep.dbqueue import settle

    calls: list[int] = []

    def broken(connection, ops, now):  # type: ignore[no-untyped-def]
        calls.append(len(ops))
        raise IntegrityError("constraint")

    queue = DatabaseQueue(unique_name(), fetch_wait_s=0.05)
    await orm(queue.send)("x")
    await queue.open()
    try:
        (delivery,) = await queue.fetch(1)
        monkeypatch.setattr(settle, "_apply", broken)
        with pytest.raises(ConnectorOperationError):
            await delivery.ack()
        assert calls == [1]
    finally:
        monkeypatch.undo()
        await queue.close()


async def test_closing_gives_a_settlement_that_keeps_failing_one_lease_then_gives_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    import time

    from django.db import OperationalError

    from django_onestep.core.errors import ConnectorOperationError
    from django_onestep.dbqueue import settle

    def always_locked(connection, ops, now):  # type: ignore[no-untyped-def]
        raise OperationalError("database is locked")

    queue = DatabaseQueue(unique_name(), fetch_wait_s=0.05, lease_s=0.5)
    await orm(queue.send)("x")
    await queue.open()
    (delivery,) = await queue.fetch(1)
    monkeypatch.setattr(settle, "_apply", always_locked)
    ack = asyncio.ensure_future(delivery.ack())
    await asyncio.sleep(0.2)
    assert not ack.done()  # still writing it again, not failed
    started = time.monotonic()
    await queue.close()
    assert 0.4 < time.monotonic() - started < 5
    with pytest.raises(ConnectorOperationError, match="database is locked"):
        await ack
