"""``push(url, payload, ...)``: a durable delivery, written in the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.retry import ExponentialBackoff
from django_onestep.core.validation import non_negative_number, positive_int, positive_number
from django_onestep.pushes.address_policy import check_target
from django_onestep.pushes.push_retry_policy import DEFAULT_BACKOFF, backoff_to_row

__all__ = ["PUSH_QUEUE", "push", "queue_delivery"]

PUSH_QUEUE = "onestep:push"
_METHODS = ("POST", "PUT", "PATCH", "DELETE", "GET")


def _checked_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping) or not all(isinstance(k, str) and k.strip() for k in headers):
        raise ConfigurationError("push headers must be a dict of header name -> value")
    return {key.strip(): str(value) for key, value in headers.items()}


def queue_delivery(delivery_id: uuid.UUID, *, using: str, delay_s: float | None = None) -> None:
    """Put one delivery on the push queue, in the current transaction of ``using``."""
    from django_onestep.dbqueue.queue import DatabaseQueue

    DatabaseQueue(PUSH_QUEUE, using=using).send({"delivery_id": str(delivery_id)}, delay_s=delay_s)


def push(
    url: str,
    payload: Any = None,
    *,
    method: str = "POST",
    headers: Mapping[str, Any] | None = None,
    delay_s: float | None = None,
    max_attempts: int | None = None,
    backoff: ExponentialBackoff | None = None,
    timeout_s: float = 10.0,
    signing: str | None = None,
) -> uuid.UUID:
    """Deliver ``payload`` as JSON to ``url`` until it answers 2xx; returns the delivery id.

    Both rows are written in the caller's transaction: a rolled-back push is never sent.
    ``signing`` names an entry of ``ONESTEP["PUSH_SECRETS"]``. ``max_attempts`` defaults
    to ``backoff.max_attempts`` (10). A target on an internal address raises
    ``PushTargetRefused`` unless allowed by ``ONESTEP["PUSH_ALLOWED_HOSTS"]``.
    """
    from django_onestep.models import PushDelivery

    conf = get_settings()
    verb = method.strip().upper() if isinstance(method, str) else method
    if verb not in _METHODS:
        raise ConfigurationError(f"push method must be one of {', '.join(_METHODS)}; got {method!r}")
    if backoff is not None and not isinstance(backoff, ExponentialBackoff):
        raise ConfigurationError("push backoff must be an ExponentialBackoff(...)")
    policy = backoff or DEFAULT_BACKOFF
    attempts = positive_int(
        "push max_attempts", policy.max_attempts if max_attempts is None else max_attempts
    )
    timeout = positive_number("push timeout_s", timeout_s)
    delay = None if delay_s is None else non_negative_number("push delay_s", delay_s)
    if signing is not None and signing not in conf.PUSH_SECRETS:
        raise ConfigurationError(f'push signing={signing!r} is not a key of ONESTEP["PUSH_SECRETS"]')
    host = check_target(url, conf.PUSH_ALLOWED_HOSTS)
    now = timezone.now()
    delivery = PushDelivery(
        id=uuid.uuid4(),
        url=url,
        host=host,
        method=verb,
        headers=_checked_headers(headers),
        payload=payload,
        signing=signing or "",
        timeout_s=timeout,
        max_attempts=attempts,
        backoff=backoff_to_row(policy),
        created_at=now,
        updated_at=now,
    )
    using = conf.DATABASE
    with transaction.atomic(using=using):
        delivery.save(using=using, force_insert=True)
        queue_delivery(delivery.id, using=using, delay_s=delay)
    return delivery.id
