import json
from datetime import date

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from django_onestep.celery import AsyncResult

from .models import Order, OrderLine
from .tasks import (
    export_orders_csv,
    remind_unpaid,
    render_invoice,
    reserve_stock,
    send_confirmation,
    sync_to_erp,
)

ONE_DAY_S = 24 * 3600


@csrf_exempt
@require_POST
def create_order(request):
    data = json.loads(request.body)
    order = Order.objects.create(customer=data["customer"], email=data["email"])
    for line in data.get("lines", []):
        OrderLine.objects.create(order=order, **line)
    send_confirmation.delay(order.pk)
    reserve_stock.delay(order.pk)
    remind_unpaid.apply_async((order.pk,), countdown=ONE_DAY_S)
    return JsonResponse({"id": order.pk}, status=201)


@csrf_exempt
@require_POST
def pay_order(request, order_id):
    Order.objects.filter(pk=order_id).update(status="paid")
    sync_to_erp.delay(order_id)
    render_invoice.delay(order_id)
    return JsonResponse({"id": order_id, "status": "paid"})


@csrf_exempt
@require_POST
def start_export(request):
    day = json.loads(request.body).get("day") or date.today().isoformat()
    result = export_orders_csv.delay(day)
    return JsonResponse({"task_id": result.id}, status=202)


def export_status(request, task_id):
    result = AsyncResult(task_id)
    if not result.ready():
        return JsonResponse({"state": result.state})
    if result.failed():
        return JsonResponse({"state": result.state, "error": str(result.result)}, status=500)
    return JsonResponse({"state": result.state, "csv": result.get(timeout=1)})
