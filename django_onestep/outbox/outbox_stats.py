"""Relay lag: how many outbox messages wait, and for how long the oldest has, per queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q

__all__ = ["OutboxLag", "outbox_lag"]


@dataclass(frozen=True)
class OutboxLag:
    target: str
    waiting: int
    oldest_age_s: float
    failing: int  # messages the relay tried and could not publish yet


def outbox_lag(using: str, now: datetime) -> list[OutboxLag]:
    """One entry per queue with messages waiting, in one query (rows are deleted once sent)."""
    from django_onestep.models import OutboxMessage

    rows = (
        OutboxMessage.objects.using(using)
        .values("target")
        .annotate(
            waiting=Count("id"), oldest=Min("created_at"), failing=Count("id", filter=~Q(last_error=""))
        )
        .order_by("target")
    )
    return [
        OutboxLag(
            target=row["target"],
            waiting=row["waiting"],
            oldest_age_s=max(0.0, (now - row["oldest"]).total_seconds()),
            failing=row["failing"],
        )
        for row in rows
    ]
