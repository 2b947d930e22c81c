"""The durable inbox: accepted requests as database-queue jobs, written before the answer.

The view stores each event in the request's transaction (a savepoint inside
``ATOMIC_REQUESTS``, else its own transaction, committed before the view returns), so
a sender hears 2xx only for a row that is committed or will be with the request. The
worker reads each task's inbox as its source: the usual claims, leases, retries and
dead letters of the database queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django_onestep.dbqueue.enqueue import insert_job
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.webhooks.routes import WebhookRoute, webhook_routes

__all__ = ["attach_inboxes", "dedupe_key", "store_event"]

_MAX_KEY = 200  # the job's dedupe_key column


def dedupe_key(delivery_id: str | None) -> str | None:
    """The sender's delivery id as a dedupe key (hashed when longer than the column)."""
    if delivery_id is None:
        return None
    if len(delivery_id) <= _MAX_KEY:
        return delivery_id
    return "sha256:" + hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()


def store_event(route: WebhookRoute, event: Mapping[str, Any], *, delivery_id: str | None, using: str) -> int:
    """Write ``event`` to the route's inbox; return the job id.

    A delivery id (``WebhookSource(delivery_id=...)``) already queued or running
    returns that job's id and writes nothing, in any web process.
    """
    from django.db import transaction

    key = dedupe_key(delivery_id)
    with transaction.atomic(using=using):
        return insert_job(route.inbox, using, dict(event), meta={"source": route.source.name}, dedupe_key=key)


def attach_inboxes(app: Any) -> list[str]:
    """Make each webhook task read its inbox instead of running a listener; return the tasks."""
    attached = []
    for route in webhook_routes(app):
        if route.source.inbox is None:
            route.source.inbox = DatabaseQueue(route.inbox)
        attached.append(route.task)
    return attached
