"""Relay lag: how many outbox messages wait, and for how long the oldest has, per queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min

__all__ = ["OutboxLag", "outbox_lag"]


@dataclass(frozen=True)
class OutboxLag:
    target: str
    waiting: int
    oldest_age_s: float
    failing: int  # messages the relay tried and could not publish yet


def outbox_lag(using: str, now: datetime) -> list[OutboxLag]:
    """One entry per queue with messages waiting (the table is small: rows are deleted once sent)."""
    from django_onestep.models import OutboxMessage

    rows = (
        OutboxMessage.objects.using(using)
        .values("target")
        .annotate(waiting=Count("id"), oldest=Min("created_at"))
        .order_by("target")
    )
    failing = dict(
        OutboxMessage.objects.using(using)
        .exclude(last_error="")
        .values("target")
        .annotate(n=Count("id"))
        .values_list("target", "n")
    )
    return [
        OutboxLag(
            target=row["target"],
            waiting=row["waiting"],
            oldest_age_s=max(0.0, (now - row["oldest"]).total_seconds()),
            failing=failing.get(row["target"], 0),
        )
        for row in rows
    ]
