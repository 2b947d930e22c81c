"""Where a sync enqueue to a broker queue goes: the outbox, the commit, or the broker now.

* outbox (``outbox=True``, or ``ONESTEP["OUTBOX"]`` naming the queue or ``True``): a
  row in the caller's transaction; the relay publishes it once that commits.
* on commit (the default inside ``transaction.atomic()``): published by
  ``transaction.on_commit``, so never after a rollback.
* at once (outside a transaction, or ``on_commit=False``).

The database alias is ``using=`` or ``ONESTEP["DATABASE"]``. The message id is decided
before any of them, so every mode returns it.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.connectors.broker_send import PublishOptions, refuse_event_loop, set_enqueue_hook
from django_onestep.connectors.codec import encode_envelope
from django_onestep.connectors.publisher_thread import publish_now
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError

__all__ = ["enqueue_to_broker", "install", "uses_outbox"]


def uses_outbox(queue: Any, requested: bool | None) -> bool:
    if requested is not None:
        return bool(requested)
    setting = get_settings().OUTBOX
    if isinstance(setting, bool):
        return setting
    return queue.name in setting or queue.publish_target in setting


def _alias(using: Any) -> str:
    alias = get_settings().DATABASE if using is None else using
    if alias not in connections:
        raise ConfigurationError(f"using={alias!r}: not a database alias in DATABASES")
    return str(alias)


def enqueue_to_broker(queue: Any, envelope: Envelope, options: PublishOptions, modes: dict[str, Any]) -> str:
    """The connectors' enqueue hook: returns the message id in every mode."""
    from django_onestep.models import OutboxMessage

    message_id = str(envelope.meta["message_id"])
    encoded = encode_envelope(envelope).decode("utf-8")  # a payload that cannot be sent fails here
    using = _alias(modes.get("using"))
    if uses_outbox(queue, modes.get("outbox")):
        now = timezone.now()
        OutboxMessage.objects.using(using).create(
            target=queue.publish_target,
            message_id=message_id,
            envelope=encoded,
            options=options.as_dict(),
            created_at=now,
            lease_until=now,
        )
        return message_id
    refuse_event_loop(f"{type(queue).__name__}({queue.name!r})")
    publish = functools.partial(publish_now, queue, envelope, options)
    if modes.get("on_commit", True) and connections[using].in_atomic_block:
        transaction.on_commit(publish, using=using)
    else:
        publish()
    return message_id


def install() -> None:
    """Called by the app's ``ready()``: sync sends to broker queues go through here."""
    set_enqueue_hook(enqueue_to_broker)
