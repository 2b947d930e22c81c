"""Background work of the shop, discovered by django_onestep at startup.

- ``process_order`` reads the ``orders`` queue (a table in this project's database):
  the view enqueues it in the same transaction that creates the order.
- ``book_courier`` always fails (the courier API of the demo does not exist): it is
  tried 3 times, then the job lands in the admin's Dead letters page.
- ``count_pending`` runs every minute and logs how many orders wait.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from django_onestep import DatabaseQueue, IntervalSource, MaxAttempts, app

from .models import Order

logger = logging.getLogger("orders")

orders_queue = DatabaseQueue("orders")
courier_queue = DatabaseQueue("courier")


@app.task(source=orders_queue, concurrency=4, retry=MaxAttempts(3, delay_s=2))
def process_order(ctx, payload):
    """Mark the order processed; express orders also get a courier booking."""
    order = Order.objects.get(pk=payload["order_id"])
    if order.status == Order.Status.PROCESSED:
        return  # a redelivery after a crash: already done
    # the status and the follow-up job commit together: a crash in between cannot leave
    # a processed express order whose redelivery (returning early above) never books it
    with transaction.atomic():
        order.status = Order.Status.PROCESSED
        order.processed_at = timezone.now()
        order.save(update_fields=["status", "processed_at"])
        if order.express:
            book_courier.enqueue({"order_id": order.pk})
    logger.info("processed %s", order)


@app.task(source=courier_queue, retry=MaxAttempts(3, delay_s=1))
async def book_courier(ctx, payload):
    """Call the courier API (unreachable in the demo, so this ends in a dead letter)."""
    url = ctx.config["warehouse_url"]
    raise ConnectionError(f"courier API {url} unreachable while booking order {payload['order_id']}")


@app.task(source=IntervalSource.every(minutes=1, immediate=True))
async def count_pending(ctx, payload):
    runs = (await ctx.state.get("runs", 0)) + 1
    await ctx.state.set("runs", runs)  # ctx.state is stored in the database
    pending = await Order.objects.filter(status=Order.Status.PENDING).acount()
    logger.info("pending orders: %s (check #%s)", pending, runs)
