"""A ``ModelQueue`` on ``testapp.Run`` (``task`` as the status field), for ``manage.py onestep_worker``.

Every handled row id is appended to ``ONESTEP_TEST_RUN_LOG`` (one ``O_APPEND`` write,
shared safely by several worker processes), so a row handled twice shows as a repeated line.
"""

from __future__ import annotations

import os
from typing import Any

from django.db.models import Q

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.model_sources import ModelQueue
from testproject.testapp.models import Run

app = OneStepApp("model-queue", shutdown_timeout_s=10)
runs = ModelQueue(Run, Q(task="new"), {"task": "processing"}, {"task": "done"}, batch_size=20, lease_s=60)


@app.task(source=runs, concurrency=8)
async def handle(ctx: Any, row: dict[str, Any]) -> None:
    fd = os.open(os.environ["ONESTEP_TEST_RUN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{row['id']}\n".encode())
    finally:
        os.close(fd)
