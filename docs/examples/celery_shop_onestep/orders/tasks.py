import csv
import io
from datetime import timedelta

from django.core.mail import send_mail
from django.db.models import Count, F, Sum
from django.utils import timezone

from django_onestep.celery import shared_task

from . import services
from .models import Cart, ExchangeRate, Order, OrderLine, SalesReport


@shared_task
def send_confirmation(order_id):
    order = Order.objects.get(pk=order_id)
    send_mail(
        f"Order {order.pk} received", f"Thank you, {order.customer}.", "shop@example.com", [order.email]
    )
    return order.email


@shared_task
def remind_unpaid(order_id):
    order = Order.objects.get(pk=order_id)
    if order.status != "pending":
        return False
    send_mail(
        f"Order {order.pk} is waiting for payment", "Pay within 7 days.", "shop@example.com", [order.email]
    )
    return True


@shared_task(bind=True, max_retries=3)
def reserve_stock(self, order_id):
    order = Order.objects.get(pk=order_id)
    try:
        services.warehouse_reserve(order)
    except services.WarehouseBusy as exc:
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    Order.objects.filter(pk=order_id).update(stock_reserved=True)
    return self.request.retries


@shared_task(
    autoretry_for=(services.PaymentGatewayError,), retry_backoff=True, retry_backoff_max=60, max_retries=5
)
def charge_payment(order_id):
    order = Order.objects.get(pk=order_id)
    services.charge(order)
    Order.objects.filter(pk=order_id).update(status="paid")
    return str(order.total)


@shared_task
def ship_order(order_id):
    Order.objects.filter(pk=order_id, status="paid").update(status="shipped")
    return order_id


@shared_task(rate_limit="10/m")
def sync_to_erp(order_id):
    services.erp_push(Order.objects.get(pk=order_id))
    Order.objects.filter(pk=order_id).update(erp_synced=True)


@shared_task(time_limit=30, soft_time_limit=25)
def render_invoice(order_id):
    order = Order.objects.get(pk=order_id)
    Order.objects.filter(pk=order_id).update(invoice=services.render_pdf(order))


@shared_task
def line_total(line_id):
    line = OrderLine.objects.get(pk=line_id)
    return str(line.quantity * line.unit_price)


@shared_task
def store_order_total(line_totals, order_id):
    total = sum(float(amount) for amount in line_totals)
    Order.objects.filter(pk=order_id).update(total=total)
    return total


@shared_task
def export_orders_csv(day):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "customer", "status", "total"])
    for order in Order.objects.filter(created_at__date=day).order_by("pk"):
        writer.writerow([order.pk, order.customer, order.status, order.total])
    return out.getvalue()


@shared_task
def cleanup_abandoned_carts():
    deleted, _ = Cart.objects.filter(updated_at__lt=timezone.now() - timedelta(days=30)).delete()
    return deleted


@shared_task
def refresh_exchange_rates():
    for currency, rate in services.fetch_rates().items():
        ExchangeRate.objects.update_or_create(currency=currency, defaults={"rate": rate})
    return ExchangeRate.objects.count()


@shared_task
def daily_sales_report():
    day = timezone.localdate() - timedelta(days=1)
    totals = Order.objects.filter(created_at__date=day).aggregate(orders=Count("pk"), revenue=Sum(F("total")))
    SalesReport.objects.update_or_create(
        day=day, defaults={"orders": totals["orders"], "revenue": totals["revenue"] or 0}
    )
    return str(day)
