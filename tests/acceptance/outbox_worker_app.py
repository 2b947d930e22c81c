"""A worker app on a Redis stream (OUTBOX_STREAM) whose handler records a ``Run`` per message.

Served by ``manage.py onestep_worker tests.acceptance.outbox_worker_app:app``, whose
outbox relay publishes what the test wrote to the outbox.
"""

from __future__ import annotations

import os
from typing import Any

from django_onestep.core.runtime.app import OneStepApp
from testproject.testapp.models import Run
from tests.broker_queues import broker_queue

stream = broker_queue("redis", os.environ["OUTBOX_STREAM"])
app = OneStepApp("outbox-worker")


@app.task(source=stream)
def record(ctx: Any, payload: Any) -> None:
    Run.objects.create(label=ctx.current.meta["message_id"], task="outbox")
