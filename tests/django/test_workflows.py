"""Workflows: chain, group, chord, link/link_error and on_error, run by the database queue."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from django_onestep.celery import AsyncResult, chain, chord, group
from django_onestep.dbqueue.settle import SettleOp
from django_onestep.models import Job, Workflow, WorkflowStep
from django_onestep.project.project_app import get_project_app
from django_onestep.testing import run_until_idle
from django_onestep.workflows import WorkflowFailed, step
from django_onestep.workflows.advance import advance_workflows
from testproject.testapp import workflow_tasks
from testproject.testapp.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def wt() -> Any:
    """The tasks, registered on the current project app (a test elsewhere may have reset it)."""
    if get_project_app().runtime.find_task(workflow_tasks.wf_add.name) is None:
        importlib.reload(workflow_tasks)
    return workflow_tasks


def run() -> None:
    run_until_idle(tasks=workflow_tasks.TASKS)


def labels(task: str) -> list[str]:
    return list(Run.objects.filter(task=task).order_by("id").values_list("label", flat=True))


def test_a_chain_passes_each_result_on_as_the_first_argument(wt: Any) -> None:
    result = chain(wt.wf_add.s(2, 3), wt.wf_mul.s(10), wt.wf_add.s(1)).apply_async()
    assert result.state == "PENDING"
    assert Job.objects.count() == 1  # only the first step is queued
    run()
    assert result.get(timeout=5) == 51
    assert labels("wf_add") == ["5", "51"] and labels("wf_mul") == ["50"]
    assert result.successful() and result.state == "SUCCESS"


def test_an_immutable_signature_ignores_the_previous_result(wt: Any) -> None:
    result = chain(wt.wf_add.s(1, 1), wt.wf_add.si(7, 7)).delay()
    run()
    assert result.get(timeout=5) == 14


def test_delay_arguments_go_to_the_first_step(wt: Any) -> None:
    result = (chain(wt.wf_add.s(1)) | wt.wf_mul.s(3)).delay(4)
    run()
    assert result.get(timeout=5) == 15


def test_a_group_returns_its_results_in_order(wt: Any) -> None:
    result = group([wt.wf_mul.s(i, i) for i in range(5)]).apply_async()
    assert Job.objects.count() == 5
    run()
    assert result.get(timeout=5) == [0, 1, 4, 9, 16]


def test_a_chord_runs_its_callback_once_with_the_ordered_results(wt: Any) -> None:
    result = chord([wt.wf_add.s(i, 0) for i in range(6)], wt.wf_total.s()).apply_async()
    run()
    assert result.get(timeout=5) == 15
    assert labels("wf_total") == ["15"]
    [callback] = WorkflowStep.objects.filter(workflow_id=result.workflow_id, stage=1)
    assert Job.objects.get(id=callback.job_id).payload == {"args": [[0, 1, 2, 3, 4, 5]], "kwargs": {}}


def test_chord_header_then_body_call_form(wt: Any) -> None:
    result = chord(wt.wf_add.s(i, i) for i in range(3))(wt.wf_total.s())
    run()
    assert result.get(timeout=5) == 6


def test_a_failing_member_calls_the_error_callback_once_and_never_the_body(wt: Any) -> None:
    header = [wt.wf_add.s(1, 1), wt.wf_fail.s(2), wt.wf_add.s(3, 3)]
    result = chord(header, wt.wf_total.s()).apply_async(link_error=wt.wf_errback.s())
    run()
    failed = Job.objects.get(queue=wt.wf_fail.name)
    assert labels("wf_errback") == [f"errback:{failed.id}"]
    assert labels("wf_total") == []
    with pytest.raises(WorkflowFailed, match="Broken: member 2 broke"):
        result.get(timeout=5)
    workflow = Workflow.objects.get(id=result.workflow_id)
    assert workflow.status == "failed" and f"job {failed.id} of task {wt.wf_fail.name!r}" in workflow.error
    assert result.state == "FAILURE"


def test_on_error_covers_every_step_of_a_chain(wt: Any) -> None:
    flow = chain(wt.wf_add.s(1, 1), wt.wf_fail.s(), wt.wf_add.s(5), on_error=wt.wf_errback.s(label="chain"))
    result = flow.apply_async()
    run()
    assert result.get(timeout=5, propagate=False).error.startswith("stage 1: job")
    assert len(labels("wf_errback")) == 1 and labels("wf_errback")[0].startswith("chain:")
    assert labels("wf_add") == ["2"]  # the step after the failure never ran
    assert WorkflowStep.objects.get(workflow_id=result.workflow_id, stage=2).status == "pending"


def test_link_runs_after_the_task_and_apply_async_returns_the_tasks_own_result(wt: Any) -> None:
    first = wt.wf_add.apply_async((2, 2), link=wt.wf_mul.s(5))
    assert isinstance(first, AsyncResult)
    run()
    assert first.get(timeout=5) == 4
    assert labels("wf_mul") == ["20"]


def test_link_error_on_a_single_task(wt: Any) -> None:
    first = wt.wf_fail.apply_async((9,), link_error=wt.wf_errback.s())
    run()
    assert labels("wf_errback") == [f"errback:{first.id}"]


def test_app_task_handlers_take_part_through_step(wt: Any) -> None:
    """``step(handler, payload)``; ``step(handler)`` takes the previous result as payload."""
    result = chain(step(wt.wf_double, 5), step(wt.wf_double), wt.wf_add.s(1)).apply_async()
    run()
    assert result.get(timeout=5) == 21
    fan = chord([step(wt.wf_double, i) for i in (1, 2, 3)])(step(wt.wf_summary))
    run()
    assert fan.get(timeout=5) == {"sum": 12, "count": 3}


def test_a_step_must_be_on_a_database_queue(wt: Any) -> None:
    from django_onestep.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="source is a DatabaseQueue"):
        step(lambda ctx, payload: None)


def test_a_non_json_argument_fails_when_the_workflow_is_built(wt: Any) -> None:
    with pytest.raises(TypeError, match="does not travel as JSON"):
        chain(wt.wf_add.s(object())).apply_async()
    assert Workflow.objects.count() == 0


def test_a_settlement_seen_twice_moves_the_workflow_on_once(wt: Any) -> None:
    """The hook is idempotent: a replayed ack for the last member enqueues no second callback."""
    from django.db import connection, transaction

    result = chord([wt.wf_add.s(1, 1), wt.wf_add.s(2, 2)], wt.wf_total.s()).apply_async()
    jobs = list(WorkflowStep.objects.filter(workflow_id=result.workflow_id, stage=0).order_by("index"))
    acks = [SettleOp("ack", row.job_id, "t", result_json=str(n)) for row, n in zip(jobs, (2, 4), strict=True)]
    for _ in range(2):
        with transaction.atomic():
            advance_workflows(connection, acks)
    [callback] = WorkflowStep.objects.filter(workflow_id=result.workflow_id, stage=1)
    assert Job.objects.filter(id=callback.job_id).count() == 1
    assert Job.objects.filter(queue=wt.wf_total.name).count() == 1


def _lock_waiters() -> int:
    from django.db import connection

    sql = {
        "postgresql": "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()",
        "mysql": "SELECT count(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'",
    }[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])


def test_the_last_two_members_settling_at_once_enqueue_the_callback_once(wt: Any) -> None:
    """Two settle transactions for a chord's last two members: the second waits for the
    first's lock on the workflow row, then sees its member succeeded, so exactly one of
    them enqueues the callback (without the lock, each would see the other still queued)."""
    import threading

    from django.db import connection, connections, transaction

    from tests.waiting import wait_until

    if connection.vendor == "sqlite":
        pytest.skip("SQLite has one writer: the settle transaction's first write already serialises them")
    result = chord([wt.wf_add.s(1, 1), wt.wf_add.s(2, 2)], wt.wf_total.s()).apply_async()
    rows = list(WorkflowStep.objects.filter(workflow_id=result.workflow_id, stage=0).order_by("index"))
    first_in, second_waiting, errors = threading.Event(), threading.Event(), []

    def settle(row: Any, value: int, hold: bool) -> None:
        try:
            if connection.vendor == "mysql":  # the stricter snapshot a project may configure
                with connections["default"].cursor() as cursor:
                    cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            with transaction.atomic():
                advance_workflows(
                    connections["default"], [SettleOp("ack", row.job_id, "t", result_json=str(value))]
                )
                if hold:
                    first_in.set()
                    assert second_waiting.wait(10), "the second settlement never waited for the lock"
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            connections["default"].close()

    first = threading.Thread(target=settle, args=(rows[0], 2, True))
    first.start()
    assert first_in.wait(10)
    second = threading.Thread(target=settle, args=(rows[1], 4, False))
    second.start()
    # InnoDB refreshes innodb_trx only when it was not read for 0.1 s: poll slower than that
    wait_until(lambda: _lock_waiters() >= 1, 10, "the second settlement waiting on the workflow row", 0.15)
    second_waiting.set()
    first.join(10)
    second.join(10)
    assert errors == []
    callbacks = list(WorkflowStep.objects.filter(workflow_id=result.workflow_id, stage=1))
    assert [row.status for row in callbacks] == ["queued"]
    assert Job.objects.filter(queue=wt.wf_total.name).count() == 1
    assert Job.objects.get(id=callbacks[0].job_id).payload == {"args": [[2, 4]], "kwargs": {}}


def test_the_admin_shows_a_failed_chord_with_its_steps_states_and_why(wt: Any, admin_client: Any) -> None:
    from django.urls import reverse

    result = chord([wt.wf_add.s(1, 1), wt.wf_fail.s(2)], wt.wf_total.s()).apply_async()
    run()
    listing = admin_client.get(reverse("admin:django_onestep_workflow_changelist")).content.decode()
    assert "chord" in listing and "failed" in listing and "Broken: member 2 broke" in listing
    page = admin_client.get(reverse("admin:django_onestep_workflow_change", args=[result.workflow_id]))
    html = page.content.decode()
    assert page.status_code == 200
    for task, status in (
        (wt.wf_add.name, "succeeded"),
        (wt.wf_fail.name, "failed"),
        (wt.wf_total.name, "pending"),
    ):
        assert task in html and status in html
    failed_job = WorkflowStep.objects.get(workflow_id=result.workflow_id, task=wt.wf_fail.name).job_id
    assert reverse("admin:django_onestep_job_change", args=[failed_job]) in html
    assert admin_client.get(reverse("admin:django_onestep_workflow_add")).status_code == 403


def test_chains_nest_groups_and_chords_and_first_arguments_reach_a_first_group(wt: Any) -> None:
    """``chain(a, group(...), b)`` is a chord inside a chain; ``delay(x)`` feeds each first member."""
    inner = chord([wt.wf_mul.s(2), wt.wf_mul.s(3)], wt.wf_total.s())
    result = chain(wt.wf_add.s(1), inner, wt.wf_add.s(100)).delay(4)  # 5 -> [10, 15] -> 25 -> 125
    run()
    assert result.get(timeout=5) == 125
    fan = group(wt.wf_add.s(1), wt.wf_add.s(2)).delay(10)
    run()
    assert fan.get(timeout=5) == [11, 12]
    first = chain(step(wt.wf_double), step(wt.wf_double)).delay(3)
    run()
    assert first.get(timeout=5) == 12


def test_member_options_reach_their_jobs(wt: Any) -> None:
    from django.utils import timezone

    result = chain(wt.wf_add.s(1, 1).set(countdown=3600, priority=9), wt.wf_add.s(1)).apply_async()
    [job] = Job.objects.filter(id__in=[row.job_id for row in result.steps() if row.job_id])
    assert job.available_at > timezone.now() and job.priority == 9
    with pytest.raises(TypeError, match="option 'expires'"):
        chain(wt.wf_add.s(1, 1).set(expires=5)).apply_async()


def test_revoking_a_queued_step_fails_the_workflow_and_runs_its_error_callback(wt: Any) -> None:
    result = chain(wt.wf_add.s(1, 1), wt.wf_mul.s(3)).on_error(wt.wf_errback.s()).apply_async()
    [first] = result.steps()[:1]
    assert AsyncResult(first.job_id).revoke() is None
    run()
    assert labels("wf_add") == [] and labels("wf_errback") == [f"errback:{first.job_id}"]
    with pytest.raises(
        WorkflowFailed, match=f"job {first.job_id} of task .* cancelled: cancelled before it ran"
    ):
        result.get(timeout=5)


def test_cancelling_a_steps_job_from_the_admin_fails_the_workflow(wt: Any) -> None:
    from django_onestep.console.job_actions import cancel

    result = chord([wt.wf_add.s(1, 1), wt.wf_add.s(2, 2)], wt.wf_total.s()).apply_async()
    assert cancel(Job.objects.filter(queue=wt.wf_add.name), by="ops") == 2
    assert result.get(timeout=5, propagate=False).error.endswith("cancelled: cancelled before it ran")
    assert not Job.objects.filter(queue=wt.wf_total.name).exists()


def test_the_error_callback_of_a_chord_inside_a_chain_still_runs(wt: Any) -> None:
    inner = chord([wt.wf_fail.s(), wt.wf_add.s(1)], wt.wf_total.s()).on_error(wt.wf_errback.s(label="inner"))
    assert chain(wt.wf_add.s(1, 1), inner).error_callbacks() == inner.error_callbacks()
    result = chain(wt.wf_add.s(1, 1), inner).apply_async()
    run()
    assert result.failed()
    assert [label.split(":")[0] for label in labels("wf_errback")] == ["inner"]
