"""Multi-step work: the checkout service calls these after an order is placed."""

from django_onestep.celery import chain, chord

from .models import Order
from .tasks import charge_payment, line_total, send_confirmation, ship_order, store_order_total


def price_order(order_id):
    """Price every line in parallel, then store the order's total once, from all of them."""
    line_ids = Order.objects.get(pk=order_id).lines.values_list("pk", flat=True)
    return chord(line_total.s(line_id) for line_id in line_ids)(store_order_total.s(order_id))


def fulfil_order(order_id):
    """Charge, then ship, then tell the customer: each step only after the one before."""
    return chain(charge_payment.si(order_id), ship_order.si(order_id), send_confirmation.si(order_id)).delay()
