"""``@app.task(leader_only=True)``: which sources can be leader-only, and the error for the rest.

The runtime does not elect anyone: it asks the source to fire on the leader only, and
the source's coordinator (the database one under ``onestep_worker``) holds the lease.
Only schedule sources can: on a queue, every message already goes to one worker.
"""

from __future__ import annotations

from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = ["make_leader_only"]


def make_leader_only(task_name: str, source: Any) -> None:
    mark = getattr(source, "make_leader_only", None)
    if not callable(mark):
        kind = "no source" if source is None else f"source {type(source).__name__}"
        raise ConfigurationError(
            f"task {task_name!r}: leader_only=True needs a schedule source (IntervalSource, CronSource), "
            f"got {kind}; a queue already gives each message to one worker"
        )
    mark()
