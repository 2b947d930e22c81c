import io
import json
from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from django_onestep.models import Schedule
from orders import tasks, workflows
from orders.models import Cart, ExchangeRate, Order, OrderLine, Outage, SalesReport

LINES = [
    {"sku": "mug", "quantity": 2, "unit_price": "7.50"},
    {"sku": "tea", "quantity": 1, "unit_price": "4.00"},
]


def place_order(client):
    body = {"customer": "ada", "email": "ada@example.com", "lines": LINES}
    response = client.post("/orders/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201
    return Order.objects.get(pk=response.json()["id"])


@pytest.mark.django_db
def test_placing_an_order_confirms_it_and_reserves_stock(client, celery_eager):
    with mock.patch.object(tasks.remind_unpaid, "apply_async") as remind:
        order = place_order(client)
    assert [message.subject for message in mail.outbox] == [f"Order {order.pk} received"]
    order.refresh_from_db()
    assert order.stock_reserved
    remind.assert_called_once_with((order.pk,), countdown=24 * 3600)


@pytest.mark.django_db
def test_the_reminder_is_for_unpaid_orders_only():
    order = Order.objects.create(customer="ada", email="ada@example.com")
    assert tasks.remind_unpaid(order.pk) is True
    Order.objects.filter(pk=order.pk).update(status="paid")
    assert tasks.remind_unpaid(order.pk) is False
    assert len(mail.outbox) == 1


def test_a_busy_warehouse_is_asked_again(onestep_worker):
    order = Order.objects.create(customer="ada", email="ada@example.com")
    Outage.objects.create(service="warehouse", failures_left=1)
    result = tasks.reserve_stock.delay(order.pk)
    onestep_worker.run_until_idle()  # runs the retry too, 1 s later
    assert result.get() == 1  # retried once
    order.refresh_from_db()
    assert order.stock_reserved


def test_a_gateway_timeout_is_retried_until_paid(onestep_worker):
    order = Order.objects.create(customer="ada", email="ada@example.com", total=Decimal("19.00"))
    Outage.objects.create(service="payments", failures_left=1)
    tasks.charge_payment.delay(order.pk)
    onestep_worker.run_until_idle()
    order.refresh_from_db()
    assert order.status == "paid"
    assert Outage.objects.get().failures_left == 0


@pytest.mark.django_db
def test_only_a_paid_order_ships(celery_eager):
    pending = Order.objects.create(customer="ada", email="ada@example.com")
    paid = Order.objects.create(customer="bob", email="bob@example.com", status="paid")
    tasks.ship_order.delay(pending.pk)
    tasks.ship_order.delay(paid.pk)
    assert dict(Order.objects.values_list("customer", "status")) == {"ada": "pending", "bob": "shipped"}


def test_paying_syncs_the_erp_and_renders_the_invoice(client, onestep_worker):
    order = Order.objects.create(customer="ada", email="ada@example.com", total=Decimal("19.00"))
    response = client.post(f"/orders/{order.pk}/pay/")
    onestep_worker.run_until_idle()  # render_invoice (time_limit=) runs in a child process
    assert response.json() == {"id": order.pk, "status": "paid"}
    order.refresh_from_db()
    assert order.erp_synced
    assert order.invoice == f"%PDF invoice {order.pk} total 19.00"


def test_the_line_totals_make_the_order_total(onestep_worker):
    order = Order.objects.create(customer="ada", email="ada@example.com")
    lines = [OrderLine.objects.create(order=order, **line) for line in LINES]
    results = [tasks.line_total.delay(line.pk) for line in lines]
    onestep_worker.run_until_idle()
    totals = [result.get() for result in results]
    assert totals == ["15.00", "4.00"]
    tasks.store_order_total.delay(totals, order.pk)
    onestep_worker.run_until_idle()
    order.refresh_from_db()
    assert order.total == Decimal("19.00")


def test_the_chord_stores_the_order_total_once_from_every_line(onestep_worker):
    order = Order.objects.create(customer="ada", email="ada@example.com")
    for line in LINES:
        OrderLine.objects.create(order=order, **line)
    result = workflows.price_order(order.pk)
    onestep_worker.run_until_idle()
    assert result.get(timeout=5) == 19.0
    order.refresh_from_db()
    assert order.total == Decimal("19.00")


def test_the_chain_charges_then_ships_then_confirms(onestep_worker):
    order = Order.objects.create(customer="ada", email="ada@example.com", total=Decimal("19.00"))
    Outage.objects.create(service="payments", failures_left=1)  # the charge is retried first
    result = workflows.fulfil_order(order.pk)
    onestep_worker.run_until_idle()
    assert result.get(timeout=5) == "ada@example.com"
    order.refresh_from_db()
    assert order.status == "shipped"
    assert [message.subject for message in mail.outbox] == [f"Order {order.pk} received"]


@pytest.mark.django_db
def test_the_scheduled_tasks(celery_eager):
    Cart.objects.create(customer="old", updated_at=timezone.now() - timedelta(days=31))
    Cart.objects.create(customer="new", updated_at=timezone.now())
    tasks.cleanup_abandoned_carts.delay()
    assert list(Cart.objects.values_list("customer", flat=True)) == ["new"]
    tasks.refresh_exchange_rates.delay()
    assert ExchangeRate.objects.get(currency="USD").rate == Decimal("1.085000")
    tasks.daily_sales_report.delay()
    assert SalesReport.objects.get().orders == 0


class crontab:  # the attributes onestep_import_beat reads from celery's crontab
    def __init__(self, minute, hour):
        self.minute, self.hour = {minute}, {hour}
        self.day_of_month, self.month_of_year, self.day_of_week = (
            set(range(1, 32)),
            set(range(1, 13)),
            set(range(7)),
        )


BEAT_SCHEDULE = {  # the CELERY_BEAT_SCHEDULE this project had
    "cleanup-abandoned-carts": {"task": "orders.tasks.cleanup_abandoned_carts", "schedule": crontab(0, 3)},
    "daily-sales-report": {"task": "orders.tasks.daily_sales_report", "schedule": crontab(30, 6)},
    "refresh-exchange-rates": {
        "task": "orders.tasks.refresh_exchange_rates",
        "schedule": timedelta(minutes=15),
    },
}


def test_the_beat_schedule(onestep_worker, settings):
    settings.CELERY_BEAT_SCHEDULE, settings.CELERY_TIMEZONE = BEAT_SCHEDULE, "Europe/Paris"
    call_command("onestep_import_beat", stdout=io.StringIO())
    schedules = {
        row.key: (row.task, row.expression, row.interval_s, row.timezone) for row in Schedule.objects.all()
    }
    assert schedules == {
        "beat:cleanup-abandoned-carts": (
            "orders.tasks.cleanup_abandoned_carts",
            "0 3 * * *",
            None,
            "Europe/Paris",
        ),
        "beat:daily-sales-report": ("orders.tasks.daily_sales_report", "30 6 * * *", None, "Europe/Paris"),
        "beat:refresh-exchange-rates": ("orders.tasks.refresh_exchange_rates", "", 900.0, "Europe/Paris"),
    }
    for task in (tasks.cleanup_abandoned_carts, tasks.daily_sales_report, tasks.refresh_exchange_rates):
        task.queue.send(None)  # what each tick enqueues
    summary = onestep_worker.run_until_idle()
    assert summary.succeeded == 3


def test_the_export_is_read_back_through_its_task_id(client, onestep_worker):
    Order.objects.create(customer="ada", email="ada@example.com")
    started = client.post(
        "/exports/", json.dumps({"day": date.today().isoformat()}), content_type="application/json"
    )
    assert started.status_code == 202
    task_id = started.json()["task_id"]
    assert client.get(f"/exports/{task_id}/").json() == {"state": "PENDING"}
    onestep_worker.run_until_idle()
    status = client.get(f"/exports/{task_id}/").json()
    assert status["state"] == "SUCCESS"
    assert status["csv"].splitlines()[1].split(",")[1:] == ["ada", "pending", "0.00"]
