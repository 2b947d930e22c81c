"""The metrics dashboard: per task, over the last hour or day, three SVG charts.

Read from the per-minute ``TaskMetric`` windows (never from jobs), through the
``(window_start, task)`` index, and summed into 60 buckets of one minute (last hour)
or 96 of 15 minutes (last day): runs ended (succeeded, retried, failed), failures by
kind, and p50/p95 duration (the upper bound of the histogram bucket holding them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.safestring import SafeString

from django_onestep.console.svg_charts import Series, lines, stacked_bars
from django_onestep.models import TaskMetric
from django_onestep.orm.telemetry import DURATION_BUCKETS_S, histogram_percentile

__all__ = ["RANGES", "TaskPanel", "task_panels"]

#: range name -> (span, bucket), in seconds
RANGES: dict[str, tuple[int, int]] = {"1h": (3600, 60), "1d": (86400, 900)}
_HISTOGRAM_LEN = len(DURATION_BUCKETS_S) + 1


@dataclass
class _Sums:
    succeeded: list[int]
    retried: list[int]
    failed: list[int]
    dead_lettered: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    histograms: list[list[int]] = field(default_factory=list)


@dataclass
class TaskPanel:
    app: str
    task: str
    totals: dict[str, Any]
    charts: list[SafeString]


def _start(now: datetime, span_s: int, bucket_s: int) -> datetime:
    first = now - timedelta(seconds=span_s - bucket_s)
    epoch_s = int(first.timestamp()) // bucket_s * bucket_s
    return datetime.fromtimestamp(epoch_s, tz=first.tzinfo)


def task_panels(range_name: str, task: str | None = None, now: datetime | None = None) -> list[TaskPanel]:
    span_s, bucket_s = RANGES[range_name]
    count = span_s // bucket_s
    start = _start(now or timezone.now(), span_s, bucket_s)
    rows = TaskMetric.objects.filter(window_start__gte=start).order_by()
    if task:
        rows = rows.filter(task=task)
    sums: dict[tuple[str, str], _Sums] = {}
    fields = ("app", "task", "window_start", "succeeded", "retried", "failed", "dead_lettered", "failures",
              "histogram")  # fmt: skip
    for app, name, window_start, ok, retried, failed, dead, failures, histogram in rows.values_list(*fields):
        index = min(int((window_start - start).total_seconds()) // bucket_s, count - 1)
        entry = sums.get((app, name))
        if entry is None:
            entry = sums[(app, name)] = _Sums([0] * count, [0] * count, [0] * count,
                                              histograms=[[0] * _HISTOGRAM_LEN for _ in range(count)])  # fmt: skip
        entry.succeeded[index] += ok
        entry.retried[index] += retried
        entry.failed[index] += failed
        entry.dead_lettered += dead
        for kind, n in (failures or {}).items():
            entry.by_kind.setdefault(str(kind), [0] * count)[index] += int(n)
        for slot, n in enumerate(list(histogram or [])[:_HISTOGRAM_LEN]):
            entry.histograms[index][slot] += int(n)
    labels = [(start + timedelta(seconds=i * bucket_s)).strftime("%H:%M") for i in range(count)]
    return [_panel(app, name, entry, labels) for (app, name), entry in sorted(sums.items())]


def _panel(app: str, task: str, sums: _Sums, labels: list[str]) -> TaskPanel:
    ended = sum(sums.succeeded) + sum(sums.retried) + sum(sums.failed)
    failures = sum(sums.retried) + sum(sums.failed)
    total_histogram = [sum(h[i] for h in sums.histograms) for i in range(_HISTOGRAM_LEN)]
    totals = {
        "succeeded": sum(sums.succeeded),
        "failed": sum(sums.failed),
        "retried": sum(sums.retried),
        "dead_lettered": sums.dead_lettered,
        "failure_rate": f"{100 * failures / ended:.1f}%" if ended else "-",
        "p50": histogram_percentile(total_histogram, 0.5),
        "p95": histogram_percentile(total_histogram, 0.95),
    }
    runs = [Series("succeeded", sums.succeeded), Series("retried", sums.retried),
            Series("failed", sums.failed, "#c62828")]  # fmt: skip
    kinds = [Series(kind, values) for kind, values in sorted(sums.by_kind.items())]
    p50 = [histogram_percentile(h, 0.5) for h in sums.histograms]
    p95 = [histogram_percentile(h, 0.95) for h in sums.histograms]
    durations = [Series("p50", p50, "#1565c0"), Series("p95", p95, "#6a1b9a")]
    charts = [
        stacked_bars(f"{task}: runs ended", labels, runs),
        stacked_bars(f"{task}: failures by kind", labels, kinds),
        lines(f"{task}: duration", labels, durations, unit=" s"),
    ]
    return TaskPanel(app, task, totals, charts)
