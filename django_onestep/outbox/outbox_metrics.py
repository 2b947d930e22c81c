"""The relay lag as Prometheus gauges, beside the other metrics of the ``metrics/`` page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from django_onestep.outbox.outbox_stats import outbox_lag

__all__ = ["OutboxCollector"]


class OutboxCollector:
    def __init__(self, using: str) -> None:
        self.using = using

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        lags = outbox_lag(self.using, timezone.now())
        waiting = GaugeMetricFamily("onestep_outbox_messages", "Outbox messages not yet published",
                                    labels=["target"])  # fmt: skip
        oldest = GaugeMetricFamily("onestep_outbox_oldest_age_seconds",
                                   "Age of the oldest unpublished outbox message (the relay lag)",
                                   labels=["target"])  # fmt: skip
        failing = GaugeMetricFamily("onestep_outbox_failing_messages",
                                    "Outbox messages whose publish was refused and is retried",
                                    labels=["target"])  # fmt: skip
        for lag in lags:
            waiting.add_metric([lag.target], lag.waiting)
            oldest.add_metric([lag.target], lag.oldest_age_s)
            failing.add_metric([lag.target], lag.failing)
        yield waiting
        yield oldest
        yield failing
