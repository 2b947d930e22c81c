"""The web process of the outbox crash test: orders and their jobs, one transaction each.

Run as ``manage.py shell -c "from tests.acceptance.outbox_web import main; main()"``.
Continues after the last order a previous (killed) run committed, up to OUTBOX_TOTAL;
each order's job goes to Redis and RabbitMQ, and every OUTBOX_SQS_EVERY-th one's to SQS as well
(moto's receive slows with the queue's length: reading 500 back would take a minute). After committing an order
listed in OUTBOX_KILL_AT it SIGKILLs itself: the rows are in the outbox, nothing was
published.
"""

from __future__ import annotations

import os
import signal

from django.db import transaction

from testproject.testapp.models import Order
from tests.acceptance.outbox_app import queues


def main() -> None:
    total = int(os.environ["OUTBOX_TOTAL"])
    sqs_every = int(os.environ["OUTBOX_SQS_EVERY"])
    kill_at = {int(i) for i in os.environ["OUTBOX_KILL_AT"].split(",")}
    start = Order.objects.filter(reference__startswith="crash-").count()
    for i in range(start, total):
        with transaction.atomic():
            Order.objects.create(reference=f"crash-{i}")
            for kind, queue in queues.items():
                if kind != "sqs" or i % sqs_every == 0:
                    queue.send({"i": i}, outbox=True)
        if i in kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
