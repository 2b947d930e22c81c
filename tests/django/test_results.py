"""Results, status, progress, cancel and expiry of database-queue jobs, through the runtime."""

from __future__ import annotations

import asyncio
import json
import pickle
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.orm.dead_letters import DatabaseDeadLetters
from django_onestep.results import JobFailed, JobHandle, JobNotFound, get_job
from tests.django.dbqueue_helpers import orm, unique_name

pytestmark = pytest.mark.django_db(transaction=True)


def make_app() -> OneStepApp:
    def dead_letters(app: OneStepApp, spec: Any) -> DatabaseDeadLetters:
        return DatabaseDeadLetters(app_name=app.name, task=spec.name)

    return OneStepApp("results", dead_letter_factory=dead_letters)


def queue(**options: Any) -> DatabaseQueue:
    return DatabaseQueue(unique_name(), fetch_wait_s=0.05, **options)


async def test_a_return_value_is_stored_and_read_back_through_the_handle() -> None:
    app, q = make_app(), queue()

    @app.task(source=q)
    async def add(ctx: Any, payload: dict[str, int]) -> dict[str, Any]:
        return {"sum": payload["a"] + payload["b"], "items": [1, "two", None]}

    handle = await orm(q.send)({"a": 2, "b": 3})
    assert isinstance(handle, JobHandle)
    assert await orm(lambda: handle.refresh().status)() == "queued"
    await app.serve(until_idle=True)
    assert await orm(handle.wait)(timeout=5) == {"sum": 5, "items": [1, "two", None]}
    loaded = await orm(get_job)(int(handle))
    assert (loaded.status, loaded.result, loaded.attempts, loaded.error) == (
        "succeeded",
        {"sum": 5, "items": [1, "two", None]},
        1,
        None,
    )
    assert loaded.enqueued_at <= loaded.started_at <= loaded.finished_at  # type: ignore[operator]
    assert await handle.aget(timeout=5) == {"sum": 5, "items": [1, "two", None]}


async def test_store_result_false_keeps_no_value_and_a_non_json_value_fails_the_job() -> None:
    app, q_off, q_bad = make_app(), queue(), queue()

    @app.task(source=q_off, store_result=False)
    async def not_kept(ctx: Any, payload: Any) -> str:
        return "secret"

    @app.task(source=q_bad)
    async def not_json(ctx: Any, payload: Any) -> object:
        return object()

    off = await orm(q_off.send)({})
    bad = await orm(q_bad.send)({})
    await app.serve(until_idle=True)
    assert await orm(off.wait)(timeout=5) is None
    with pytest.raises(JobFailed) as failed:
        await orm(bad.wait)(timeout=5)
    assert failed.value.handle.status == "dead"
    error = failed.value.handle.error
    assert error is not None and error.type == "ValueError"
    assert "must be JSON serializable to be stored" in error.message
    assert "store_result=False" in error.message
    assert "Traceback" in error.traceback


async def test_a_failure_is_read_back_with_type_message_and_traceback() -> None:
    app, q = make_app(), queue()

    @app.task(source=q)
    def boom(ctx: Any, payload: Any) -> None:
        raise KeyError("no such order")

    handle = await orm(q.send)({"order": 7})
    await app.serve(until_idle=True)
    with pytest.raises(JobFailed, match=r"job \d+ dead: KeyError: 'no such order'"):
        await orm(handle.wait)(timeout=5)
    error = handle.error
    assert error is not None
    assert (error.type, error.message) == ("KeyError", "'no such order'")
    assert 'raise KeyError("no such order")' in error.traceback


def test_an_unknown_id_raises_job_not_found_and_is_never_read_as_queued() -> None:
    with pytest.raises(JobNotFound, match="no job with id 987654321"):
        get_job(987654321)
    with pytest.raises(JobNotFound, match="is not a job id"):
        get_job("not-a-number")
    with pytest.raises(JobNotFound):
        JobHandle(987654321).status  # noqa: B018 - the read is the test


def test_a_handle_behaves_as_the_id_and_enqueue_adds_no_query() -> None:
    q = queue()
    with CaptureQueriesContext(connection) as queries:
        handle = q.send({"x": 1})
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) == (2 if connection.vendor == "postgresql" else 1)  # + NOTIFY on PostgreSQL
    assert statements[0].upper().startswith("INSERT")
    job_id = int(handle)
    assert (str(handle), f"{handle}", handle == job_id, hash(handle) == hash(job_id)) == (
        str(job_id),
        str(job_id),
        True,
        True,
    )
    assert {job_id: "a"}[handle] == "a"
    assert json.dumps({"job": handle}) == json.dumps({"job": job_id})
    assert json.dumps(handle, cls=DjangoJSONEncoder) == str(job_id)
    copied = pickle.loads(pickle.dumps(handle))
    assert (copied, copied.using, copied.status) == (job_id, handle.using, "queued")
    assert repr(handle) == f"<JobHandle {job_id}>"  # not read yet: no query
    assert repr(handle.refresh()) == f"<JobHandle {job_id} queued>"
    assert [int(h) for h in q.send_many([1, 2])] == [job_id + 1, job_id + 2]


def test_waiting_inside_a_transaction_is_refused_with_the_fix() -> None:
    q = queue()
    with transaction.atomic():
        handle = q.send({})
        with pytest.raises(RuntimeError, match=r"wait after transaction.atomic\(\) has committed"):
            handle.wait(timeout=0.1)
    with pytest.raises(TimeoutError, match=r"still queued after 0\.05s"):
        handle.wait(timeout=0.05)


async def test_a_cancelled_queued_job_never_runs() -> None:
    app, q = make_app(), queue()
    ran: list[Any] = []

    @app.task(source=q)
    async def work(ctx: Any, payload: Any) -> None:
        ran.append(payload)

    cancelled = await orm(q.send)("cancelled")
    kept = await orm(q.send)("kept")
    assert await orm(cancelled.cancel)() == "cancelled"
    await app.serve(until_idle=True)
    assert ran == ["kept"]
    assert await orm(lambda: cancelled.refresh().status)() == "cancelled"
    assert await orm(cancelled.cancel)() == "cancelled"  # finished: cancelling again changes nothing
    assert await orm(kept.cancel)() == "succeeded"
    with pytest.raises(JobFailed, match="cancelled"):
        await orm(cancelled.wait)(timeout=1)


async def test_an_expired_job_never_runs_and_is_marked_expired() -> None:
    app, q = make_app(), queue()
    ran: list[Any] = []

    @app.task(source=q)
    async def work(ctx: Any, payload: Any) -> None:
        ran.append(payload)

    past = await orm(q.send)("past", expires_at=timezone.now() - timedelta(seconds=1))
    soon = await orm(q.send)("soon", expires_s=0.05, delay_s=0.2)  # due only after it expired
    later = await orm(q.send)("later", expires_s=60)
    assert await orm(lambda: past.refresh().status)() == "expired"  # before any worker marks it
    await asyncio.sleep(0.3)
    await app.serve(until_idle=True)
    assert ran == ["later"]
    statuses = await orm(lambda: [h.refresh().status for h in (past, soon, later)])()
    assert statuses == ["expired", "expired", "succeeded"]
    from django_onestep.models import Job

    stored = await orm(lambda: list(Job.objects.filter(queue=q.name).order_by("id").values_list("status")))()
    assert stored == [("expired",), ("expired",), ("done",)]
    with pytest.raises(ValueError, match="pass expires_s or expires_at, not both"):
        await orm(q.send)("x", expires_s=1, expires_at=timezone.now())


async def test_progress_set_three_times_is_seen_by_a_poller() -> None:
    app, q = make_app(), queue(progress_interval_s=0.01)
    seen = {step: threading.Event() for step in (1, 2, 3)}
    observed: list[dict[str, Any]] = []

    @app.task(source=q)
    def crunch(ctx: Any, payload: Any) -> str:
        for step in (1, 2, 3):
            ctx.set_progress(step, total=3, stage=f"step {step}")
            assert seen[step].wait(10), f"the poller never saw step {step}"
        return "done"

    handle = await orm(q.send)({})

    def poll() -> None:
        from django.db import connections

        watcher = JobHandle(int(handle), using=handle.using)
        deadline = time.monotonic() + 20
        try:
            while not seen[3].is_set() and time.monotonic() < deadline:
                progress = watcher.refresh().progress
                if progress is not None and (not observed or observed[-1] != progress):
                    observed.append(progress)
                    seen[int(progress["current"])].set()
                time.sleep(0.005)
        finally:
            connections.close_all()

    poller = threading.Thread(target=poll)
    poller.start()
    await app.serve(until_idle=True)
    await asyncio.to_thread(poller.join, 20)
    assert observed == [
        {"current": 1, "total": 3, "stage": "step 1"},
        {"current": 2, "total": 3, "stage": "step 2"},
        {"current": 3, "total": 3, "stage": "step 3"},
    ]
    assert await orm(handle.wait)(timeout=5) == "done"


async def test_progress_writes_are_rate_limited_and_the_last_value_lands() -> None:
    app, q = make_app(), queue(progress_interval_s=60)
    from django_onestep.dbqueue import progress as progress_module

    writes: list[str] = []
    real_write = progress_module.write_progress

    def counting_write(using: str, job_id: int, token: str, text: str) -> None:
        writes.append(text)
        real_write(using, job_id, token, text)

    progress_module.write_progress = counting_write  # type: ignore[assignment]
    try:

        @app.task(source=q)
        async def fast(ctx: Any, payload: Any) -> None:
            for step in range(1, 101):
                ctx.set_progress(step, total=100)

        handle = await orm(q.send)({})
        await app.serve(until_idle=True)
    finally:
        progress_module.write_progress = real_write  # type: ignore[assignment]
    # the first report at once; the other 99 within the interval: only the last, before the ack
    assert [json.loads(w)["current"] for w in writes] == [1, 100]
    assert await orm(lambda: handle.refresh().progress)() == {"current": 100, "total": 100}


async def _run_until_started(app: OneStepApp, started: threading.Event) -> asyncio.Task[None]:
    serving = asyncio.create_task(app.serve(until_idle=True))
    assert await asyncio.to_thread(started.wait, 10), "the handler never started"
    return serving


async def test_a_running_sync_handler_stops_on_should_abort_within_one_lease_renewal() -> None:
    lease_s = 0.6  # renewals every 0.2 s
    app, q = make_app(), queue(lease_s=lease_s)
    started = threading.Event()
    checks: list[float] = []

    @app.task(source=q)
    def long_sync(ctx: Any, payload: Any) -> str:
        started.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if ctx.should_abort():
                checks.append(time.monotonic())
                return "stopped early"  # returning after an abort still records "aborted"
            time.sleep(0.01)
        return "ran to the end"

    handle = await orm(q.send)({})
    serving = await _run_until_started(app, started)
    asked_at = time.monotonic()
    assert await orm(handle.cancel)() == "aborting"
    await asyncio.wait_for(serving, 10)
    assert checks and checks[0] - asked_at < lease_s / 3 + 0.3
    await orm(handle.refresh)()
    assert (handle.status, handle.result, handle.error and handle.error.type) == (
        "aborted",
        None,
        "JobAborted",
    )


async def test_a_running_async_handler_is_cancelled_within_one_lease_renewal() -> None:
    lease_s = 0.6
    app, q = make_app(), queue(lease_s=lease_s)
    started = threading.Event()
    outcome: list[str] = []

    @app.task(source=q)
    async def long_async(ctx: Any, payload: Any) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        outcome.append("finished")

    handle = await orm(q.send)({})
    serving = await _run_until_started(app, started)
    asked_at = time.monotonic()
    assert await orm(handle.cancel)() == "aborting"
    await asyncio.wait_for(serving, 10)
    assert time.monotonic() - asked_at < lease_s / 3 + 2  # one renewal, plus a slow machine's margin
    assert outcome == ["cancelled"]
    await orm(handle.refresh)()
    assert (handle.status, handle.attempts) == ("aborted", 1)
    with pytest.raises(JobFailed, match="aborted: JobAborted"):
        await handle.aget(timeout=1)


def test_the_project_app_and_the_package_load_a_job_by_id() -> None:
    import django_onestep
    from django_onestep import app

    handle = queue().send({})
    assert app.job(int(handle)) == handle
    assert app.job(str(handle)).status == "queued"
    assert django_onestep.get_job(handle).status == "queued"
    with pytest.raises(django_onestep.JobNotFound):
        app.job(987654321)


def test_on_postgresql_a_waiting_handle_is_woken_by_the_jobs_notification(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; other databases poll")
    from django_onestep.results import waiting

    monkeypatch.setattr(waiting, "LISTENING_POLL_S", 60.0)  # only a notification ends the wait sooner
    app, q = make_app(), queue()

    @app.task(source=q)
    async def answer(ctx: Any, payload: Any) -> str:
        return "heard"

    handle = q.send({})

    def serve_soon() -> None:
        from django.db import connections

        time.sleep(0.3)  # the waiter is listening by then
        try:
            asyncio.run(app.serve(until_idle=True))
        finally:
            connections.close_all()

    worker = threading.Thread(target=serve_soon)
    worker.start()
    started = time.monotonic()
    assert handle.wait(timeout=30) == "heard"
    assert time.monotonic() - started < 10
    worker.join(30)
    cancelled = q.send({})
    threading.Timer(0.3, lambda: (JobHandle(int(cancelled)).cancel(), connection.close())).start()
    with pytest.raises(JobFailed, match="cancelled"):
        cancelled.wait(timeout=30)
    assert time.monotonic() - started < 20
