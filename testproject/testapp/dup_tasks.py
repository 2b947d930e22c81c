"""Registers a task name that tasks.py already uses: autodiscovery must report it (E002).

Only imported by tests (it is not in ONESTEP["TASK_MODULES"]).
"""

from __future__ import annotations

from django_onestep import app


@app.task(name="record")
def record_again(ctx, payload):
    return None
