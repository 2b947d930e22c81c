"""A worker app whose task reports progress and its result to the job's live subscribers."""

from __future__ import annotations

from typing import Any

from django_onestep import DatabaseQueue, OneStepApp
from django_onestep.live.job_events import publish_job_event

app = OneStepApp("live")


@app.task(source=DatabaseQueue("live-report"))
def report(ctx: Any, payload: Any) -> None:
    job_id = ctx.delivery.job_id
    for step in range(1, payload["steps"] + 1):
        publish_job_event(job_id, "progress", {"done": step, "total": payload["steps"]})
    publish_job_event(job_id, "result", {"status": "done", "value": payload["steps"] * 10})
