"""A tiny JSON API: create an order (and its job, atomically) and read it back."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from .models import Order
from .tasks import process_order


@csrf_exempt  # a demo API called with curl; real projects authenticate it
@require_http_methods(["GET", "POST"])
def orders(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"orders": [o.as_dict() for o in Order.objects.all()[:50]]})
    try:
        data = json.loads(request.body or b"{}")
        customer = str(data["customer"])
        amount = Decimal(str(data["amount"]))
    except (ValueError, KeyError, TypeError, InvalidOperation):
        return JsonResponse({"error": 'send JSON like {"customer": "ada", "amount": "12.50"}'}, status=400)
    with transaction.atomic():
        order = Order.objects.create(customer=customer, amount=amount, express=bool(data.get("express")))
        # Written in this transaction: if anything below fails, neither the order nor
        # its job exists; once committed, the worker processes it.
        job_id = process_order.enqueue({"order_id": order.pk})
    return JsonResponse({"order": order.as_dict(), "job_id": job_id}, status=201)


@require_GET
def order_detail(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"order": get_object_or_404(Order, pk=pk).as_dict()})
