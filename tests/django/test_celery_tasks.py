"""``django_onestep.celery``: Celery-style tasks declared, called and run on the database queue."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.db import transaction

from django_onestep.celery import CeleryTask, Retry, shared_task
from django_onestep.core.errors import ConfigurationError
from django_onestep.dbqueue.rate_limit import RateLimit
from django_onestep.models import DeadLetter, Job
from django_onestep.project.project_app import get_project_app
from django_onestep.testing import run_until_idle
from testproject.testapp import celery_tasks
from testproject.testapp.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def registered() -> Any:
    """The tasks, registered on the current project app (a test elsewhere may have reset it)."""
    if get_project_app().runtime.find_task(celery_tasks.add.name) is None:
        importlib.reload(celery_tasks)
    return celery_tasks


def runs(task: str) -> list[tuple[str, int]]:
    return list(Run.objects.filter(task=task).order_by("id").values_list("label", "attempts"))


def test_delay_runs_the_function_with_its_arguments(registered: Any) -> None:
    registered.add.delay(2, 3)
    registered.concat.apply_async(("a", "b"), {"sep": "-"})
    run_until_idle(tasks=[registered.add.name, "shop.concat"])
    assert runs("add") == [("5", 0)]
    assert runs("concat") == [("a-b", 0)]
    assert registered.add.name == "testproject.testapp.celery_tasks.add"


def test_calling_the_task_runs_it_here_and_now(registered: Any) -> None:
    assert registered.add(1, 2) == 3
    assert Job.objects.count() == 0


def test_self_retry_runs_again_with_request_retries_counting_up(registered: Any) -> None:
    job_id = registered.retry_until_third.delay("r")
    run_until_idle(tasks=[registered.retry_until_third.name])
    assert runs("retry_until_third") == [("r", 0), ("r", 1), ("r", 2)]
    assert Job.objects.get(id=job_id).status == "done"


def test_past_max_retries_the_exc_is_raised_and_the_job_dead_lettered(registered: Any) -> None:
    registered.retry_forever.delay("x")
    run_until_idle(tasks=[registered.retry_forever.name])
    assert runs("retry_forever") == [("x", 0), ("x", 1)]  # max_retries=1: two runs
    [dead] = DeadLetter.objects.filter(task=registered.retry_forever.name)
    assert (dead.exception_type, dead.message) == ("Flaky", "still broken")


def test_autoretry_for_retries_listed_exceptions_only(registered: Any) -> None:
    registered.auto_retried.delay("flaky")
    registered.auto_retried.delay("other", fail_with="key")
    run_until_idle(tasks=[registered.auto_retried.name])
    labels = [label for label, _ in runs("auto_retried")]
    assert labels.count("flaky") == 4  # the first run and max_retries=3 retries
    assert labels.count("other") == 1
    assert sorted(DeadLetter.objects.values_list("exception_type", flat=True)) == ["Flaky", "KeyError"]


def test_countdown_eta_priority_and_task_id_reach_the_job(registered: Any) -> None:
    from django.utils import timezone

    later = registered.add.apply_async((1, 1), countdown=3600, priority=7, task_id="order-42")
    again = registered.add.apply_async((1, 1), countdown=3600, task_id="order-42")
    job = Job.objects.get(id=later)
    assert job.available_at > timezone.now() and job.priority == 7 and job.dedupe_key == "order-42"
    assert again == later  # the same task_id while queued: one job
    assert Job.objects.get(id=registered.concat.delay("a")).priority == 5  # the task's default
    run_until_idle(tasks=[registered.add.name])
    assert runs("add") == []  # not due yet


def test_a_rolled_back_delay_on_commit_never_runs(registered: Any) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        registered.add.delay_on_commit(1, 1)
        raise RuntimeError("the view failed")
    with transaction.atomic():
        kept = registered.add.delay_on_commit(2, 2)
    assert int(kept) > 0
    run_until_idle(tasks=[registered.add.name])
    assert runs("add") == [("4", 0)]


def test_signatures_prepend_new_arguments_unless_immutable(registered: Any) -> None:
    partial = registered.concat.s("b", sep="+")
    frozen = registered.concat.si("z")
    assert repr(partial) == "shop.concat.s('b', sep='+')"
    partial.delay("a")
    frozen.delay("ignored")
    run_until_idle(tasks=["shop.concat"])
    assert sorted(label for label, _ in runs("concat")) == ["a+b", "z"]


def test_an_argument_that_is_not_json_fails_at_the_call_by_name(registered: Any) -> None:
    run = Run.objects.create(label="x", task="t")
    with pytest.raises(
        TypeError,
        match=r"add.delay\(\): argument 0 is a Run, which does not travel as JSON \(pass its primary key",
    ):
        registered.add.delay(run, 1)
    with pytest.raises(TypeError, match=r"argument 'when' is a datetime"):
        from datetime import datetime

        registered.add.apply_async((1,), {"when": datetime(2026, 1, 1)})
    assert Job.objects.count() == 0


def test_another_queue_at_the_call_is_refused(registered: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"queue='other', but the task runs on queue 'shop'"):
        registered.concat.apply_async(("a",), queue="other")
    with pytest.raises(TypeError, match=r"unsupported option 'link_errback'"):
        registered.concat.apply_async(("a",), link_errback=None)


def test_time_limits_run_the_task_in_a_child_process(registered: Any) -> None:
    spec = get_project_app().runtime.find_task(registered.limited.name)
    assert spec is not None
    assert (spec.executor, spec.time_limit_s, spec.timeout_s) == ("process", 30.0, 20.0)
    assert spec.handler_path == "testproject.testapp.celery_tasks:limited.run_payload"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate_limit": "10 per minute"}, "rate_limit: must be like '60/m', '10/s', '100/h' or '20/10s'"),
        ({"base": object}, "option 'base' is not supported (there is no task base class"),
        ({"serializer": "pickle"}, "option 'serializer' is not supported (arguments always travel as JSON)"),
        ({"max_retires": 3}, "unknown option 'max_retires' (supported: "),
        ({"max_retries": -1}, "max_retries: must be an integer >= 0 or None (for ever), got -1"),
        ({"autoretry_for": ValueError("x")}, "autoretry_for: must be a tuple of exception classes"),
    ],
)
def test_options_without_an_equivalent_are_refused_at_import(options: dict[str, Any], message: str) -> None:
    def send_report() -> None:
        pass

    with pytest.raises(ConfigurationError, match=r"^task '[\w.]*send_report'[: ]"):
        shared_task(**options)(send_report)
    with pytest.raises(ConfigurationError) as info:
        shared_task(**options)(send_report)
    assert message in str(info.value)


def test_accepted_options_that_always_hold_here() -> None:
    def accepted_everywhere() -> None:
        pass

    task = shared_task(name="tests.accepted", acks_late=True, track_started=True, reject_on_worker_lost=True)(
        accepted_everywhere
    )
    assert isinstance(task, CeleryTask) and task.name == "tests.accepted"


def test_rate_limit_is_the_task_queue_window() -> None:
    def sync_to_erp() -> None:
        pass

    task = shared_task(name="tests.rate_limited", rate_limit="10/m")(sync_to_erp)
    assert task.queue.rate_limit == RateLimit(max_runs=10, window_s=60.0)


def test_retry_raises_retry_with_the_countdown() -> None:
    from django_onestep.celery.request import BoundTask, Request

    bound = BoundTask(celery_tasks.retry_until_third, Request(retries=0))
    with pytest.raises(Retry) as info:
        bound.retry(countdown=12)
    assert info.value.countdown_s == 12


def test_async_result_reads_state_result_and_failure(registered: Any) -> None:
    from django_onestep.celery import AsyncResult
    from django_onestep.results import JobFailed

    ok = registered.report_progress.delay(3)
    bad = registered.explode.delay("parse")
    assert (ok.state, ok.ready(), ok.result) == ("PENDING", False, None)
    run_until_idle(tasks=[registered.report_progress.name, registered.explode.name])
    again = AsyncResult(ok.id)
    assert (again.state, again.ready(), again.successful()) == ("SUCCESS", True, True)
    assert again.get(timeout=5) == {"done": 3}
    assert again.handle.progress == {"current": 3, "total": 3, "state": "PROGRESS"}
    assert bad.state == "FAILURE" and bad.failed()
    with pytest.raises(JobFailed, match=r"ValueError: cannot parse"):
        bad.get(timeout=5)
    assert isinstance(bad.get(timeout=5, propagate=False), JobFailed)
    assert "ValueError: cannot parse" in (bad.traceback or "")


def test_an_unknown_id_is_never_read_as_pending() -> None:
    from django_onestep.celery import AsyncResult
    from django_onestep.results import JobNotFound

    with pytest.raises(JobNotFound):
        _ = AsyncResult(987654).state
    with pytest.raises(JobNotFound):
        AsyncResult("not-a-job").ready()


def test_revoke_cancels_a_queued_job(registered: Any) -> None:
    result = registered.add.delay(5, 5)
    result.revoke()
    run_until_idle(tasks=[registered.add.name])
    assert result.state == "REVOKED"
    assert runs("add") == []
