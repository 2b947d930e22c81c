"""Tests of the shop's tasks with django-onestep's testing kit (shown in docs/testing.md).

Run them from example_project/: ``pytest``.
"""

import pytest

from django_onestep.models import DeadLetter, Job
from django_onestep.testing import capture_enqueued, eager, make_jobs_due
from orders.models import Order
from orders.tasks import process_order


@pytest.mark.django_db
def test_the_view_enqueues_processing(client):
    with capture_enqueued() as captured:  # nothing is written, nothing runs
        response = client.post(
            "/orders/", {"customer": "ada", "amount": "12.50"}, content_type="application/json"
        )
    assert response.status_code == 201
    order_id = response.json()["order"]["id"]
    assert captured.payloads(process_order) == [{"order_id": order_id}]


@pytest.mark.django_db
def test_processing_marks_the_order(onestep_eager):
    order = Order.objects.create(customer="ada", amount="12.50")
    process_order.enqueue({"order_id": order.pk})  # eager: runs right here
    order.refresh_from_db()
    assert order.status == "processed"


@pytest.mark.django_db
def test_courier_errors_reach_the_caller_in_eager_mode():
    order = Order.objects.create(customer="grace", amount="99", express=True)
    with eager(), pytest.raises(ConnectionError, match="courier API"):
        process_order.enqueue({"order_id": order.pk})  # which enqueues book_courier


def test_the_worker_processes_orders_and_dead_letters_the_courier(onestep_worker):
    order = Order.objects.create(customer="grace", amount="99", express=True)
    process_order.enqueue({"order_id": order.pk})

    summary = onestep_worker.run_until_idle(tasks=["process_order", "book_courier"])

    assert summary.by_task["process_order"]["succeeded"] == 1
    order.refresh_from_db()
    assert order.status == "processed"
    # book_courier always fails: MaxAttempts(3) with 1 s between attempts. The run
    # waits for the retries it scheduled itself (2 s here), so it ends dead-lettered.
    assert summary.by_task["book_courier"]["retried"] == 2
    assert summary.dead_lettered == 1
    letter = DeadLetter.objects.get()
    assert (letter.task, letter.exception_type) == ("book_courier", "ConnectionError")
    assert letter.payload == {"order_id": order.pk}
    assert Job.objects.get(queue="courier").status == "dead"


def test_delayed_jobs_wait_until_made_due(onestep_worker):
    order = Order.objects.create(customer="ada", amount="12.50")
    process_order.enqueue({"order_id": order.pk}, delay_s=3600)

    assert onestep_worker.run_until_idle(tasks=["process_order"]).succeeded == 0  # not due
    make_jobs_due("orders")  # as if the hour had passed
    assert onestep_worker.run_until_idle(tasks=["process_order"]).succeeded == 1
