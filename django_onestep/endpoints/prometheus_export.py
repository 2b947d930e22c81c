"""The ``metrics/`` page: the tables as Prometheus metrics, through ``prometheus_client``.

Read at scrape time from the database, so every process serving the page answers the
same. Task outcomes and durations cover the last hour of per-minute ``TaskMetric``
windows (gauges, not counters: old windows are pruned, so a running total would drop).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.core.errors import MissingExtraError
from django_onestep.dbqueue.queue_stats import queue_lags_s, status_counts
from django_onestep.endpoints.health_report import live_workers
from django_onestep.models import DeadLetter, TaskMetric, WorkerHeartbeat
from django_onestep.orm.telemetry import DURATION_BUCKETS_S
from django_onestep.outbox.outbox_metrics import OutboxCollector

__all__ = ["CONTENT_TYPE", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_OUTCOMES = ("succeeded", "retried", "failed", "dead_lettered", "cancelled")


class _TablesCollector:
    def __init__(self, using: str, stale_after_s: float) -> None:
        self.using = using
        self.stale_after_s = stale_after_s

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        now = timezone.now()
        jobs = GaugeMetricFamily("onestep_queue_jobs", "Jobs by queue and status (done excluded: most of the table)",
                                 labels=["queue", "status"])  # fmt: skip
        for queue, by_status in sorted(status_counts(self.using).items()):
            for status, count in sorted(by_status.items()):
                jobs.add_metric([queue, status], count)
        yield jobs

        oldest = GaugeMetricFamily("onestep_queue_oldest_age_seconds", "Wait of the oldest due queued job",
                                   labels=["queue"])  # fmt: skip
        for queue, lag_s in sorted(queue_lags_s(self.using, now).items()):
            oldest.add_metric([queue], lag_s)
        yield oldest

        pending = DeadLetter.objects.using(self.using).filter(status=DeadLetter.Status.PENDING).count()
        yield GaugeMetricFamily(
            "onestep_dead_letters_pending", "Dead letters not yet resolved", value=pending
        )

        alive = live_workers(self.using, now, self.stale_after_s)
        yield GaugeMetricFamily("onestep_workers_alive", "Workers with a fresh heartbeat", value=alive)
        seen = GaugeMetricFamily("onestep_worker_last_seen_age_seconds", "Age of each worker's heartbeat",
                                 labels=["worker_id", "host", "status"])  # fmt: skip
        for worker in (
            WorkerHeartbeat.objects.using(self.using).exclude(status="stopped").order_by("-last_seen")[:500]
        ):
            seen.add_metric([worker.worker_id, worker.host, worker.status],
                            (now - worker.last_seen).total_seconds())  # fmt: skip
        yield seen

        yield from self._task_windows(now)

    def _task_windows(self, now: Any) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        outcomes: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(_OUTCOMES, 0))
        buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(DURATION_BUCKETS_S) + 1))
        sums: dict[tuple[str, str], float] = defaultdict(float)
        windows = TaskMetric.objects.using(self.using).filter(window_start__gte=now - timedelta(hours=1))
        for window in windows.order_by("window_start", "task"):
            key = (window.app, window.task)
            for outcome in _OUTCOMES:
                outcomes[key][outcome] += getattr(window, outcome)
            for index, count in enumerate(list(window.histogram or [])[: len(DURATION_BUCKETS_S) + 1]):
                buckets[key][index] += int(count)
            sums[key] += window.duration_sum_s
        family = GaugeMetricFamily("onestep_task_outcomes_last_hour", "Task runs ended in the last hour",
                                   labels=["app", "task", "outcome"])  # fmt: skip
        for (app, task), by_outcome in sorted(outcomes.items()):
            for outcome, count in by_outcome.items():
                family.add_metric([app, task, outcome], count)
        yield family
        durations = HistogramMetricFamily("onestep_task_duration_seconds_last_hour",
                                          "Task run durations in the last hour", labels=["app", "task"])  # fmt: skip
        for (app, task), counts in sorted(buckets.items()):
            running, cumulative = 0, []
            for bound, count in zip((*DURATION_BUCKETS_S, float("inf")), counts, strict=True):
                running += count
                cumulative.append(("+Inf" if bound == float("inf") else str(bound), running))
            durations.add_metric([app, task], cumulative, sum_value=sums[(app, task)])
        yield durations


def render_metrics() -> bytes:
    """The exposition text of every metric above."""
    try:
        from prometheus_client import CollectorRegistry, generate_latest
    except ImportError as exc:
        raise MissingExtraError("prometheus_client", "prometheus") from exc
    settings = get_settings()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_TablesCollector(settings.DATABASE, settings.HEALTH["WORKER_STALE_S"] or 30.0))
    registry.register(OutboxCollector(settings.DATABASE))
    return bytes(generate_latest(registry))
