"""The push JSON API, under ``django_onestep.urls``: ``push/deliveries/...``.

Every request needs ``Authorization: Bearer <ONESTEP["PUSH_API_TOKEN"]>`` (compared in
constant time); with no token set the API refuses everything.

- ``POST push/deliveries/`` ``{"url", "payload", "method", "headers", "delay_s",
  "max_attempts", "timeout_s", "signing"}`` → 201 and the delivery;
- ``GET push/deliveries/?state=in_flight|succeeded|dead&page=1&page_size=50``;
- ``GET push/deliveries/<id>/``;
- ``POST push/deliveries/<id>/requeue/`` (a dead one; 409 otherwise).
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt

from django_onestep.conf import get_settings
from django_onestep.core.errors import ConfigurationError
from django_onestep.pushes.address_policy import PushTargetRefused
from django_onestep.pushes.operations import delivery_as_dict, list_deliveries, requeue
from django_onestep.pushes.outbox import push

__all__ = ["push_urlpatterns"]

_CREATE_FIELDS = ("url", "payload", "method", "headers", "delay_s", "max_attempts", "timeout_s", "signing")
View = Callable[..., HttpResponse]


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _token_required(view: View) -> View:
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = get_settings().PUSH_API_TOKEN
        if token is None:
            return _error(403, 'the push API is off: set ONESTEP["PUSH_API_TOKEN"]')
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
            return _error(401, "unauthorized")
        return view(request, *args, **kwargs)

    return csrf_exempt(guarded)


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name, str(default))
    if not raw.isdigit():
        raise ValueError(f"{name} must be a positive integer; got {raw!r}")
    return int(raw)


@_token_required
def deliveries(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        try:
            page = list_deliveries(
                request.GET.get("state") or None,
                page=_int_param(request, "page", 1),
                page_size=_int_param(request, "page_size", 50),
            )
        except ValueError as exc:
            return _error(400, str(exc))
        return JsonResponse(page)
    if request.method != "POST":
        return _error(405, "use GET or POST")
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "the body must be a JSON object")
    if not isinstance(data, dict) or "url" not in data:
        return _error(400, 'the body must be a JSON object with a "url"')
    unknown = sorted(set(data) - set(_CREATE_FIELDS))
    if unknown:
        return _error(400, f"unknown field {unknown[0]!r} (known: {', '.join(_CREATE_FIELDS)})")
    try:
        delivery_id = push(data.pop("url"), data.pop("payload", None), **data)
    except (PushTargetRefused, ConfigurationError, TypeError) as exc:
        return _error(400, str(exc))
    return JsonResponse(_one(delivery_id), status=201)


def _one(delivery_id: uuid.UUID) -> dict[str, Any]:
    from django_onestep.models import PushDelivery

    return delivery_as_dict(PushDelivery.objects.using(get_settings().DATABASE).get(pk=delivery_id))


@_token_required
def delivery(request: HttpRequest, delivery_id: uuid.UUID) -> HttpResponse:
    from django_onestep.models import PushDelivery

    if request.method != "GET":
        return _error(405, "use GET")
    try:
        return JsonResponse(_one(delivery_id))
    except PushDelivery.DoesNotExist:
        return _error(404, "no such delivery")


@_token_required
def requeue_delivery(request: HttpRequest, delivery_id: uuid.UUID) -> HttpResponse:
    from django_onestep.models import PushDelivery

    if request.method != "POST":
        return _error(405, "use POST")
    if not PushDelivery.objects.using(get_settings().DATABASE).filter(pk=delivery_id).exists():
        return _error(404, "no such delivery")
    if not requeue(delivery_id):
        return _error(409, "only a dead delivery can be requeued")
    return JsonResponse(_one(delivery_id))


def push_urlpatterns() -> list[URLPattern]:
    return [
        path("push/deliveries/", deliveries, name="push_deliveries"),
        path("push/deliveries/<uuid:delivery_id>/", delivery, name="push_delivery"),
        path("push/deliveries/<uuid:delivery_id>/requeue/", requeue_delivery, name="push_requeue"),
    ]
