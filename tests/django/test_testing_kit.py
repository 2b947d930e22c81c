"""The users' testing kit: capture, eager, run_until_idle, FakeClock, pytest fixtures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction

from django_onestep.models import DeadLetter, Job
from django_onestep.testing import FakeClock, capture_enqueued, eager, run_until_idle
from testproject.testapp.models import Run
from testproject.testapp.tasks import always_fails, count, record, work_queue


@pytest.mark.django_db
def test_capture_records_instead_of_writing() -> None:
    with capture_enqueued() as captured:
        first = record.enqueue({"label": "a"}, priority=5)
        second = work_queue.send({"label": "b"})
        always_fails.enqueue({"label": "c"})
        many = work_queue.send_many([{"label": "d"}, {"label": "e"}], priority=1)
    assert (first, second, many) == (1, 2, [4, 5])
    assert captured.payloads(record) == [{"label": "a"}, {"label": "b"}, {"label": "d"}, {"label": "e"}]
    assert captured.payloads("always_fails") == [{"label": "c"}]
    assert captured.for_task(record)[0].options == {"priority": 5}
    assert captured.jobs[0].queue == "testapp.work"
    assert Job.objects.count() == 0
    # restored afterwards
    record.enqueue({"label": "real"})
    assert Job.objects.filter(queue="testapp.work").count() == 1


async def test_capture_covers_async_enqueue() -> None:
    with capture_enqueued() as captured:
        await record.aenqueue({"label": "x"})
        await work_queue.publish({"label": "y"}, meta={"k": 1})
    assert captured.payloads() == [{"label": "x"}, {"label": "y"}]
    assert captured.jobs[1].meta == {"k": 1}


@pytest.mark.django_db
def test_eager_runs_the_handler_in_the_test_transaction() -> None:
    with eager():
        assert record.enqueue({"label": "now"}) == "now"
        with pytest.raises(RuntimeError, match="boom e"):
            always_fails.enqueue({"label": "e"})
    assert list(Run.objects.values_list("task", "label")) == [("record", "now"), ("always_fails", "e")]
    assert Job.objects.count() == 0


class _Rollback(Exception):
    pass


@pytest.mark.django_db
def test_eager_ctx_state_joins_the_callers_transaction() -> None:
    # the worker's store writes on its own DB thread: from a test that meant "database is
    # locked" on SQLite, and state committed past the test's rollback elsewhere
    from django_onestep.models import StateEntry

    with eager(), pytest.raises(_Rollback):
        with transaction.atomic():
            Run.objects.create(task="setup", label="holds the write lock")
            count.enqueue({"n": 1})
            count.enqueue({"n": 2})
            assert list(StateEntry.objects.values_list("key", "value_json")) == [
                ("testproject:count:total", "2")
            ]
            raise _Rollback
    assert StateEntry.objects.count() == 0  # rolled back with the caller's transaction


@pytest.mark.django_db(transaction=True)
def test_run_until_idle_runs_committed_work_through_the_real_runtime() -> None:
    for label in ("a", "b", "c"):
        record.enqueue({"label": label})
    always_fails.enqueue({"label": "z"})
    summary = run_until_idle(tasks=["record", "always_fails"])
    assert summary.by_task["record"]["succeeded"] == 3
    assert summary.by_task["always_fails"]["retried"] == 1
    assert summary.dead_lettered == 1
    assert sorted(Run.objects.filter(task="record").values_list("label", flat=True)) == ["a", "b", "c"]
    assert DeadLetter.objects.get().task == "always_fails"


@pytest.mark.django_db
def test_run_until_idle_refuses_inside_the_test_transaction() -> None:
    with pytest.raises(RuntimeError, match=r"transaction=True"):
        run_until_idle(tasks=["record"])


def test_fake_clock() -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert clock() == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert clock.advance(minutes=90) == datetime(2026, 3, 1, 13, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(seconds=-1)
    with pytest.raises(ValueError, match="aware datetime"):
        FakeClock(datetime(2026, 1, 1))


def test_fixture_capture(onestep_capture) -> None:
    count.enqueue({"n": 1})
    assert onestep_capture.payloads(count) == [{"n": 1}]


@pytest.mark.django_db
def test_fixture_eager(onestep_eager) -> None:
    with transaction.atomic():
        record.enqueue({"label": "fx"})
    assert Run.objects.get().label == "fx"


def test_fixture_worker(onestep_worker) -> None:
    record.enqueue({"label": "w"})
    summary = onestep_worker.run_until_idle(["record"])
    assert summary.succeeded == 1
    assert Run.objects.get().label == "w"


@pytest.mark.django_db(transaction=True)
def test_make_jobs_due_skips_retry_delays() -> None:
    from django_onestep.testing import make_jobs_due

    record.enqueue({"label": "later"}, delay_s=3600)
    record.enqueue({"label": "other"}, delay_s=3600)
    assert run_until_idle(tasks=["record"]).succeeded == 0
    assert make_jobs_due("testapp.failing") == 0
    assert make_jobs_due("testapp.work") == 2
    assert run_until_idle(tasks=["record"]).succeeded == 2
    assert make_jobs_due() == 0
