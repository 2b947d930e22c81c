"""Batch submissions with real ``manage.py onestep_worker`` processes.

Several worker processes need a database with row locks: those tests run in the
MariaDB pass only (SQLite's single writer gains nothing from more processes, and one
pass keeps the suite short); the single-process cases run on every database.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from django_onestep import Submission, SubmissionFailed, submit
from django_onestep.models import DeadLetter, SubmissionChunk, SubmissionRecord
from tests.waiting import poll

TARGET = "tests.acceptance.submission_app:app"


def many_processes() -> None:
    if connection.vendor != "mysql":  # one pass keeps the suite short; the locking is the same
        pytest.skip("several worker processes: the MariaDB pass")


def run_lines(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def chunk_statuses(submission: Submission) -> dict[str, int]:
    statuses: dict[str, int] = {}
    for status in SubmissionChunk.objects.filter(submission_id=submission.id).values_list(
        "status", flat=True
    ):
        statuses[status] = statuses.get(status, 0) + 1
    return statuses


def stop(workers: list[Any]) -> None:
    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(60) == 0, worker.output()


# The done-when size is 100,000 (13 to 38 s here, with the machine's load):
# `benchmarks/submissions.py --parts full` runs it; the suite runs a fifth of it.
OPS = 20_000


def test_four_workers_progress_monotonic_results_in_order(manage: Any, tmp_path: Path) -> None:
    many_processes()
    workers = [manage.start("onestep_worker", TARGET, "--tasks", "echo") for _ in range(4)]
    for worker in workers:
        worker.wait_for_output("onestep worker pid", timeout_s=120)
    submission = submit("acc-ints", range(OPS), chunk_size=1000)
    seen: list[tuple[int, int]] = []

    def sample() -> bool:
        progress = submission.progress
        seen.append((progress.chunks_done, progress.ops_done))
        return progress.fraction == 1.0

    poll(sample, "every chunk done", timeout_s=120)  # about every 0.05 s: stricter than 0.5 s
    stop(workers)
    assert seen == sorted(seen) and seen[-1] == (OPS // 1000, OPS)
    assert submission.wait(timeout=5) == "completed"
    results = list(submission.results())
    assert results == list(range(OPS)) and sum(results) == OPS * (OPS - 1) // 2
    assert set(
        SubmissionChunk.objects.filter(submission_id=submission.id).values_list("attempts", flat=True)
    ) == {1}


def test_cancel_at_about_a_third_finishes_no_chunk_after_it(manage: Any, tmp_path: Path) -> None:
    many_processes()
    log = tmp_path / "runs.log"
    env = {"ONESTEP_TEST_RUN_LOG": str(log), "ONESTEP_TEST_SLOW_S": "0.1"}
    workers = [manage.start("onestep_worker", TARGET, "--tasks", "slow", env=env) for _ in range(2)]
    submission = submit("acc-slow", range(600), chunk_size=10)
    poll(lambda: submission.progress.fraction >= 0.3, "30% of the chunks done", timeout_s=120)
    assert submission.cancel()
    done_at_cancel = submission.progress.chunks_done
    poll(
        lambda: (
            len([e for e in run_lines(log) if e[0] == "start"])
            == len([e for e in run_lines(log) if e[0] == "end"])
        ),
        "the chunks in flight ended",
    )
    stop(workers)
    record = SubmissionRecord.objects.get(id=submission.id)
    assert record.status == "cancelled"
    assert record.chunks_done == done_at_cancel < 60
    assert chunk_statuses(submission) == {"done": done_at_cancel, "skipped": 60 - done_at_cancel}
    assert not SubmissionChunk.objects.filter(
        submission_id=submission.id, finished_at__gt=record.finished_at
    ).exists()


def test_a_chunk_that_always_raises_fails_the_submission_after_3_attempts(
    manage: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    submission = submit("acc-picky", range(100), chunk_size=10, max_chunk_attempts=3)
    result = manage.run(
        "onestep_worker", TARGET, "--tasks", "picky", "--once", env={"ONESTEP_TEST_RUN_LOG": str(log)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    failing = SubmissionChunk.objects.get(submission_id=submission.id, index=1)
    assert (failing.status, failing.attempts) == ("failed", 3)
    assert [line[1] for line in run_lines(log)].count("10") == 3
    with pytest.raises(SubmissionFailed) as failed:
        submission.wait(timeout=5)
    assert (failed.value.chunk_index, failed.value.exception_type) == (1, "LookupError")
    assert not DeadLetter.objects.filter(task="picky").exists()  # the submission holds the failure
    statuses = chunk_statuses(submission)
    assert statuses["failed"] == 1 and statuses.get("skipped", 0) >= 1 and "pending" not in statuses


def test_a_stopped_workers_chunk_is_finished_by_another_and_its_late_completion_rejected(
    manage: Any, tmp_path: Path
) -> None:
    many_processes()
    log = tmp_path / "runs.log"
    env = {"ONESTEP_TEST_RUN_LOG": str(log), "ONESTEP_TEST_LEASE_S": "1.5", "ONESTEP_TEST_SLOW_S": "0.5"}
    first = manage.start("onestep_worker", TARGET, "--tasks", "slow", env=env)
    submission = submit("acc-slow", range(10), chunk_size=10)
    poll(lambda: run_lines(log)[:1] == [["start", "0", str(first.pid)]], "the first worker holds the chunk")
    first.signal(signal.SIGSTOP)
    second = manage.start("onestep_worker", TARGET, "--tasks", "slow", env=env)
    poll(lambda: submission.progress.chunks_done == 1, "the second worker completed the chunk")
    first.signal(signal.SIGCONT)
    poll(lambda: ["end", "0", str(first.pid)] in run_lines(log), "the first worker's late run ended")
    first.wait_for_output("its reservation was lost", timeout_s=30)
    stop([first, second])
    assert ["end", "0", str(second.pid)] in run_lines(log)
    record = SubmissionRecord.objects.get(id=submission.id)
    assert (record.status, record.chunks_done, record.ops_done) == ("completed", 1, 10)
    assert SubmissionChunk.objects.get(submission_id=submission.id).attempts == 2
    assert list(submission.results()) == list(range(10))


PRODUCE = """
import resource
from django_onestep import submit
idle_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
items = (f"{n:0100d}" for n in range(1_000_000))  # all of them at once: about 150 MB
submission = submit("acc-rss", items, chunk_size=1000)
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("rss", idle_kb, peak_kb, submission.progress.ops_total)
"""


@pytest.mark.sqlite_only
def test_streaming_a_million_items_in_keeps_the_producer_small(manage: Any) -> None:
    result = manage.run("shell", "-c", PRODUCE)
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("rss ")]
    _, idle_kb, peak_kb, ops = line.split()
    assert int(ops) == 1_000_000
    assert int(peak_kb) - int(idle_kb) < 100 * 1024, f"peak {peak_kb} KB, idle {idle_kb} KB"


@pytest.mark.sqlite_only
def test_onestep_purge_command_line(manage: Any) -> None:
    help_text = manage.run("onestep_purge", "--help")
    assert help_text.returncode == 0 and "--older-than AGE" in help_text.stdout
    assert "Running submissions are never touched" in help_text.stdout
    bad = manage.run("onestep_purge", "--older-than", "soon")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "onestep_purge: --older-than: 'soon' is not an age: use a number with s, m, h, d or w (e.g. 7d, 12h, 3600)"
    ]
