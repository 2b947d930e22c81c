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

__all__ = ["WebhookInbox", "attach_inboxes", "dedupe_key", "forget_delivery_ids", "store_event"]

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

    A delivery id (``WebhookSource(delivery_id=...)``) seen before returns the first
    delivery's job id and writes nothing, in any web process: while that job waits or
    runs, by the queue's dedupe key; after, by its ``WebhookDelivery`` row.
    """
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from django_onestep.models import WebhookDelivery

    key = dedupe_key(delivery_id)
    meta = {"source": route.source.name}
    with transaction.atomic(using=using):
        if key is None:
            return insert_job(route.inbox, using, dict(event), meta=meta)
        try:
            with transaction.atomic(using=using):  # a savepoint: a repeat rolls back the job too
                job_id = insert_job(route.inbox, using, dict(event), meta=meta, dedupe_key=key)
                WebhookDelivery.objects.using(using).create(
                    inbox=route.inbox, delivery_id=key, job_id=job_id, received_at=timezone.now()
                )
                return job_id
        except IntegrityError:
            seen = WebhookDelivery.objects.using(using).filter(inbox=route.inbox, delivery_id=key)
            return int(seen.values_list("job_id", flat=True).get())


class WebhookInbox(DatabaseQueue):
    """A webhook task's inbox: a database queue that also forgets old delivery ids."""

    def prune_sync(self, *, max_batches: int = 20, batch_size: int = 1000) -> int:
        deleted = super().prune_sync(max_batches=max_batches, batch_size=batch_size)
        if self.done_retention_s is not None:
            forget_delivery_ids(self.name, self.using, self.done_retention_s)
        return deleted


def forget_delivery_ids(inbox: str, using: str, retention_s: float) -> int:
    """Delete the delivery ids ``inbox`` accepted more than ``retention_s`` ago."""
    from datetime import timedelta

    from django.utils import timezone

    from django_onestep.models import WebhookDelivery

    cutoff = timezone.now() - timedelta(seconds=retention_s)
    deleted, _ = WebhookDelivery.objects.using(using).filter(inbox=inbox, received_at__lt=cutoff).delete()
    return int(deleted)


def attach_inboxes(app: Any) -> list[str]:
    """Make each webhook task read its inbox instead of running a listener; return the tasks."""
    attached = []
    for route in webhook_routes(app):
        if route.source.inbox is None:
            route.source.inbox = WebhookInbox(route.inbox)
        attached.append(route.task)
    return attached
