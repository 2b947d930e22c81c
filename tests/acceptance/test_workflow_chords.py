"""Chords under failure with real ``manage.py onestep_worker`` processes.

A worker SIGKILLed in the middle of a chord, and two workers finishing its last
members: the callback still runs exactly once. A chord with a failing member runs its
error callback once and never its callback.
"""

from __future__ import annotations

import collections
import signal
from pathlib import Path
from typing import Any

from django_onestep.celery import chord
from django_onestep.models import Job, Workflow
from django_onestep.workflows import step
from tests.acceptance import workflow_app as wa
from tests.waiting import poll

TARGET = "tests.acceptance.workflow_app:app"
MEMBERS = 50


def run_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def stop(worker: Any) -> None:
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.output()


def test_a_chord_whose_worker_is_sigkilled_midway_runs_its_callback_exactly_once(
    manage: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    env = {"ONESTEP_TEST_RUN_LOG": str(log)}
    header = [step(wa.member, {"n": n, "sleep_s": 0.05}) for n in range(MEMBERS)]
    result = chord(header, step(wa.callback)).apply_async()
    worker = manage.start("onestep_worker", TARGET, env=env)
    poll(lambda: len(run_lines(log)) >= 12, "a quarter of the members ran", timeout_s=60)
    worker.kill()  # SIGKILL, with members claimed and running
    assert worker.popen.returncode == -signal.SIGKILL
    assert Workflow.objects.get(id=result.workflow_id).status == "running"
    # two workers finish it: its last members may settle at the same moment
    workers = [manage.start("onestep_worker", TARGET, env=env) for _ in range(2)]
    assert result.get(timeout=60) == sum(range(MEMBERS))
    for survivor in workers:
        stop(survivor)

    lines = run_lines(log)
    assert [line for line in lines if line.startswith("callback")] == [
        f"callback {sum(range(MEMBERS))} {MEMBERS}"
    ]
    ran = collections.Counter(int(line.split()[1]) for line in lines if line.startswith("member"))
    assert set(ran) == set(range(MEMBERS))  # none lost; the killed worker's ran again
    assert Job.objects.filter(queue=wa.callback_queue.name).count() == 1
    assert sum(Job.objects.filter(queue=wa.member_queue.name).values_list("reclaims", flat=True)) >= 1


def test_a_chord_with_a_failing_member_runs_its_error_callback_once_and_never_its_callback(
    manage: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    header = [step(wa.member, {"n": n, "fail": n == wa.FAILING_MEMBER}) for n in range(10)]
    result = chord(header, step(wa.callback)).apply_async(link_error=step(wa.errback))
    worker = manage.start("onestep_worker", TARGET, env={"ONESTEP_TEST_RUN_LOG": str(log)})
    members = Job.objects.filter(queue=wa.member_queue.name)
    poll(lambda: not members.exclude(status__in=["done", "dead", "failed"]).exists(), "every member finished")
    poll(
        lambda: Job.objects.filter(queue=wa.errback_queue.name, status="done").exists(),
        "the error callback ran",
    )
    stop(worker)

    failed = members.get(payload__n=wa.FAILING_MEMBER)
    lines = run_lines(log)
    assert [line for line in lines if not line.startswith("member")] == [f"errback {failed.id}"]
    assert not Job.objects.filter(queue=wa.callback_queue.name).exists()
    workflow = Workflow.objects.get(id=result.workflow_id)
    assert workflow.status == "failed"
    assert "member 7 failed on purpose" in workflow.error
