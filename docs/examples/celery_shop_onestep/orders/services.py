"""The shop's outside services, faked: an ``Outage`` row makes the next calls fail."""

import time
from decimal import Decimal

from django.db import transaction

from .models import Outage


class WarehouseBusy(Exception):
    pass


class PaymentGatewayError(Exception):
    pass


def _fails(service):
    with transaction.atomic():
        outage = Outage.objects.select_for_update().filter(service=service, failures_left__gt=0).first()
        if outage is None:
            return False
        outage.failures_left -= 1
        outage.save(update_fields=["failures_left"])
        return True


def warehouse_reserve(order):
    if _fails("warehouse"):
        raise WarehouseBusy(f"warehouse busy, order {order.pk} not reserved")


def charge(order):
    if _fails("payments"):
        raise PaymentGatewayError(f"gateway timeout charging order {order.pk}")


def erp_push(order):
    if _fails("erp"):
        raise ConnectionError("ERP unreachable")


def render_pdf(order, seconds=0.0):
    time.sleep(seconds)  # a slow renderer; the invoice task has a time limit
    return f"%PDF invoice {order.pk} total {order.total}"


def fetch_rates():
    return {"USD": Decimal("1.085000"), "GBP": Decimal("0.857000")}
