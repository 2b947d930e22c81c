"""MetricsRecorder windows and HeartbeatWriter rows (both DBs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_onestep.conf import OneStepSettingsError, get_settings
from django_onestep.core.events import TaskEvent, TaskEventKind
from django_onestep.core.retry import FailureInfo, FailureKind
from django_onestep.models import TaskMetric, WorkerHeartbeat
from django_onestep.orm.telemetry import (
    DURATION_BUCKETS_S,
    HeartbeatWriter,
    MetricsRecorder,
    histogram_percentile,
    prune_heartbeats,
)
from tests.django.dbqueue_helpers import orm

pytestmark = pytest.mark.django_db(transaction=True)

# recent windows (older ones are pruned after METRICS_RETENTION_S)
BASE = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
T0 = BASE + timedelta(seconds=10)
T1 = BASE + timedelta(minutes=1, seconds=59)


def event(kind: TaskEventKind, at: datetime, task: str = "t", duration_s: float | None = None, failure=None):  # type: ignore[no-untyped-def]
    return TaskEvent(
        kind=kind,
        app="a",
        task=task,
        source="q",
        attempts=0,
        emitted_at=at,
        duration_s=duration_s,
        failure=failure,
    )


def metric_rows() -> list[dict[str, object]]:
    return list(TaskMetric.objects.order_by("window_start", "task").values())


async def test_events_aggregate_per_minute_and_merge_across_flushes() -> None:
    recorder = MetricsRecorder("a", flush_interval_s=3600)
    error = FailureInfo(kind=FailureKind.ERROR, exception_type="ValueError", message="x")
    for at, duration in ((T0, 0.002), (T0, 0.2)):
        recorder(event(TaskEventKind.STARTED, at))
        recorder(event(TaskEventKind.SUCCEEDED, at, duration_s=duration))
    recorder(event(TaskEventKind.STARTED, T1))
    assert recorder.in_flight_total() == 1
    recorder(event(TaskEventKind.FAILED, T1, duration_s=7.0, failure=error))
    assert recorder.in_flight_total() == 0
    await recorder.start()
    try:
        assert await recorder.flush() == 2
        recorder(event(TaskEventKind.SUCCEEDED, T0, duration_s=0.004))  # same window again: adds
        assert await recorder.flush() == 1
        assert await recorder.flush() == 0
    finally:
        await recorder.stop()
    first, second = await orm(metric_rows)()
    assert first["window_start"] == BASE
    assert (first["started"], first["succeeded"], first["failed"], first["duration_count"]) == (2, 3, 0, 3)
    assert first["duration_max_s"] == 0.2
    assert round(first["duration_sum_s"], 6) == 0.206
    # buckets: 2 ms and 4 ms land in "<= 5 ms" (index 1), 200 ms in "<= 0.5 s" (index 5)
    assert first["histogram"] == [0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert second["window_start"] == BASE + timedelta(minutes=1)
    assert (second["failed"], second["failures"]) == (1, {"error": 1})
    assert histogram_percentile(first["histogram"], 0.5) == 0.005
    assert histogram_percentile([0] * (len(DURATION_BUCKETS_S) + 1), 0.5) is None


async def test_heartbeat_upserts_one_row_and_marks_it_stopped() -> None:
    writer = HeartbeatWriter("a", ["t1", "t2"], interval_s=3600, in_flight=lambda: 3)
    await writer.start()
    try:
        await writer.beat()
        (row,) = await orm(lambda: list(WorkerHeartbeat.objects.values()))()
        assert (row["worker_id"], row["status"], row["in_flight"], row["tasks"]) == (
            writer.worker_id,
            "running",
            3,
            ["t1", "t2"],
        )
        assert row["last_seen"] >= row["started_at"]
    finally:
        await writer.stop()
    (row,) = await orm(lambda: list(WorkerHeartbeat.objects.values()))()
    assert row["status"] == "stopped"


# -- heartbeat retention ------------------------------------------------------------------
DAY_S = 24 * 3600.0


def add_heartbeat(worker_id: str, status: str, seen_s_ago: float) -> None:
    seen = timezone.now() - timedelta(seconds=seen_s_ago)
    WorkerHeartbeat.objects.create(
        worker_id=worker_id, app="a", host="h", pid=1, status=status, started_at=seen, last_seen=seen
    )


def heartbeat_ids() -> list[str]:
    return sorted(WorkerHeartbeat.objects.values_list("worker_id", flat=True))


def test_prune_deletes_old_stopped_and_long_silent_rows() -> None:
    add_heartbeat("stopped-2d", "stopped", 2 * DAY_S)
    add_heartbeat("crashed-2d", "running", 2 * DAY_S)  # killed: never marked stopped
    add_heartbeat("stopped-1h", "stopped", 3600)
    add_heartbeat("running-now", "running", 3)
    assert prune_heartbeats("default", DAY_S, 100.0) == 2
    assert heartbeat_ids() == ["running-now", "stopped-1h"]


def test_prune_never_takes_a_live_worker_for_a_crashed_one() -> None:
    # a retention shorter than the missed-beats floor: a stopped row goes at the
    # retention, a running one only after the missed beats
    add_heartbeat("stopped-80s", "stopped", 80)
    add_heartbeat("running-80s", "running", 80)
    add_heartbeat("running-150s", "running", 150)
    assert prune_heartbeats("default", 60.0, 100.0) == 2
    assert heartbeat_ids() == ["running-80s"]


def test_prune_keeps_the_callers_own_row_and_works_in_batches() -> None:
    for i in range(5):
        add_heartbeat(f"old-{i}", "stopped", 2 * DAY_S)
    add_heartbeat("me", "running", 2 * DAY_S)
    assert prune_heartbeats("default", DAY_S, 100.0, "me", batch_size=2, max_batches=2) == 4
    assert len(heartbeat_ids()) == 2  # one old row left for the next round, and "me"
    assert prune_heartbeats("default", DAY_S, 100.0, "me", batch_size=2, max_batches=2) == 1
    assert heartbeat_ids() == ["me"]


async def test_heartbeat_writer_prunes_old_rows_when_it_starts() -> None:
    await orm(add_heartbeat)("stopped-2d", "stopped", 2 * DAY_S)
    await orm(add_heartbeat)("stopped-1h", "stopped", 3600)
    writer = HeartbeatWriter("a", ["t"], interval_s=3600, retention_s=DAY_S)
    await writer.start()
    try:
        assert await orm(heartbeat_ids)() == sorted([writer.worker_id, "stopped-1h"])
    finally:
        await writer.stop()


async def test_heartbeat_writer_without_retention_keeps_every_row() -> None:
    await orm(add_heartbeat)("stopped-2d", "stopped", 2 * DAY_S)
    writer = HeartbeatWriter("a", ["t"], interval_s=3600, retention_s=None)
    await writer.start()
    await writer.stop()
    assert await orm(heartbeat_ids)() == sorted([writer.worker_id, "stopped-2d"])


async def test_one_shot_writer_deletes_its_row_on_stop() -> None:
    await orm(add_heartbeat)("other", "running", 1)
    writer = HeartbeatWriter("a", ["t"], interval_s=3600, forget_on_stop=True)
    await writer.start()
    assert writer.worker_id in await orm(heartbeat_ids)()  # visible while it runs
    await writer.stop()
    assert await orm(heartbeat_ids)() == ["other"]


def test_heartbeat_retention_setting() -> None:
    with override_settings(ONESTEP={}):
        assert get_settings().WORKER_HEARTBEAT_RETENTION_S == DAY_S
    with override_settings(ONESTEP={"WORKER_HEARTBEAT_RETENTION_S": None}):
        assert get_settings().WORKER_HEARTBEAT_RETENTION_S is None
    with override_settings(ONESTEP={"WORKER_HEARTBEAT_RETENTION_S": 0}):
        with pytest.raises(
            OneStepSettingsError, match=r'ONESTEP\["WORKER_HEARTBEAT_RETENTION_S"\]: must be > 0'
        ):
            get_settings()


def test_log_successes_setting() -> None:
    with override_settings(ONESTEP={}):
        assert get_settings().LOG_SUCCESSES == "summary"
    for value in (True, False, "summary"):
        with override_settings(ONESTEP={"LOG_SUCCESSES": value}):
            assert get_settings().LOG_SUCCESSES == value
    with override_settings(ONESTEP={"LOG_SUCCESSES": "no"}):
        with pytest.raises(
            OneStepSettingsError,
            match=r'ONESTEP\["LOG_SUCCESSES"\]: must be True, False or "summary", got \'no\'',
        ):
            get_settings()


def test_events_fall_into_the_minute_of_their_own_time_at_the_boundaries() -> None:
    recorder = MetricsRecorder("a", flush_interval_s=3600)
    boundary = BASE + timedelta(minutes=1)
    naive = (boundary + timedelta(seconds=5)).replace(tzinfo=None)  # read as UTC
    for at in (boundary - timedelta(microseconds=1), boundary, naive, BASE, boundary + timedelta(minutes=1)):
        recorder(event(TaskEventKind.SUCCEEDED, at, duration_s=0.001))
    minute = int(BASE.timestamp() // 60)
    counts = {key[1] - minute: window.counts["succeeded"] for key, window in recorder._windows.items()}
    assert counts == {0: 2, 1: 2, 2: 1}
