"""A sync view that enqueues to a broker queue in its transaction (URLconf for the tests)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path

from testproject.testapp.models import Order

QUEUE: dict[str, Any] = {}  # the test puts the queue under "queue"


def create_order(request: HttpRequest) -> JsonResponse:
    reference = request.POST["reference"]
    with transaction.atomic():
        order = Order.objects.create(reference=reference)
        message_id = QUEUE["queue"].send({"order": order.pk, "reference": reference})
    return JsonResponse({"order": order.pk, "message_id": message_id})


urlpatterns = [path("orders/", create_order)]
