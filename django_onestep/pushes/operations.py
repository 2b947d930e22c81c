"""What the JSON API and ``onestep_deliveries`` do: list, fetch, requeue, pause, resume."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.pushes.outbox import queue_delivery

__all__ = ["STATES", "delivery_as_dict", "list_deliveries", "requeue", "set_paused"]

STATES = ("in_flight", "succeeded", "dead")
MAX_PAGE_SIZE = 200


def delivery_as_dict(row: Any) -> dict[str, Any]:
    """A delivery as the API shows it: no header values (they may carry credentials)."""
    return {
        "id": str(row.pk),
        "url": row.url,
        "host": row.host,
        "method": row.method,
        "state": row.state,
        "attempts": row.attempts,
        "max_attempts": row.max_attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "headers": sorted(row.headers),
        "signing": row.signing or None,
        "payload": row.payload,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


def list_deliveries(state: str | None, *, page: int = 1, page_size: int = 50) -> dict[str, Any]:
    """One page, newest first; ``state`` one of ``STATES`` or None for all."""
    from django_onestep.models import PushDelivery

    if state is not None and state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}; got {state!r}")
    page = max(1, page)
    page_size = max(1, min(MAX_PAGE_SIZE, page_size))
    rows = PushDelivery.objects.using(get_settings().DATABASE).order_by("-created_at", "-pk")
    if state is not None:
        rows = rows.filter(state=state)
    start = (page - 1) * page_size
    # one row more than the page says whether there is a next one, without a COUNT(*)
    found = list(rows[start : start + page_size + 1])
    return {
        "page": page,
        "page_size": page_size,
        "next_page": page + 1 if len(found) > page_size else None,
        "results": [delivery_as_dict(row) for row in found[:page_size]],
    }


def requeue(delivery_id: uuid.UUID | str) -> bool:
    """Give a dead delivery a fresh set of attempts; False if it is not dead."""
    from django_onestep.models import PushDelivery

    delivery_id = uuid.UUID(str(delivery_id))  # ValueError for a malformed id
    using = get_settings().DATABASE
    with transaction.atomic(using=using):
        changed = (
            PushDelivery.objects.using(using)
            .filter(pk=delivery_id, state=PushDelivery.State.DEAD)
            .update(
                state=PushDelivery.State.IN_FLIGHT, attempts=0, finished_at=None, updated_at=timezone.now()
            )
        )
        if changed:
            queue_delivery(delivery_id, using=using)
    return bool(changed)


def set_paused(host: str, paused: bool) -> None:
    """Pause (or resume) every delivery to ``host``; they wait, and count no attempt."""
    from django_onestep.models import PushHost

    PushHost.objects.using(get_settings().DATABASE).update_or_create(
        host=host.strip().lower(), defaults={"paused": paused, "updated_at": timezone.now()}
    )
