"""Who owns which partition and how far behind it is, read from Redis (for ``onestep_check``).

``lag`` is what the group has not read yet (Redis 7's ``XINFO GROUPS`` lag) and
``pending`` what its owner read and has not acked; their sum is the partition's backlog.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.redis.entries import text
from django_onestep.connectors.redis.partitioned import PartitionedStream

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["add_partition_status", "partition_report", "render_partition_status"]


async def partition_report(stream: PartitionedStream) -> list[dict[str, Any]]:
    """One row per partition: ``partition, owner, lag, pending, quarantined`` (a reason or None)."""
    client = await stream.connector.acquire()
    try:
        keys = stream.keys
        leases = await client.mget([keys.lease(p) for p in range(stream.partitions)])
        parked = {int(text(p)): text(reason) for p, reason in (await client.hgetall(keys.quarantine)).items()}
        rows: list[dict[str, Any]] = []
        for partition, lease in enumerate(leases):
            lag: int | None = 0
            pending = 0
            if await client.exists(keys.stream(partition)):
                for group in await client.xinfo_groups(keys.stream(partition)):
                    if text(group.get("name")) == stream.group:
                        raw_lag = group.get("lag")
                        lag = None if raw_lag is None else int(raw_lag)
                        pending = int(group.get("pending", 0))
            rows.append(
                {
                    "partition": partition,
                    "owner": text(lease).rsplit("|", 1)[0] if lease else None,
                    "lag": lag,
                    "pending": pending,
                    "quarantined": parked.get(partition),
                }
            )
        return rows
    finally:
        await stream.connector.release()


def add_partition_status(app: OneStepApp, report: dict[str, Any]) -> None:
    """``task["partitions"]`` for each task on a partitioned stream; a quarantined one is a warning."""
    for task in report.get("tasks", []):
        spec = next((spec for spec in app.tasks if spec.name == task["name"]), None)
        if spec is None or not isinstance(spec.source, PartitionedStream):
            continue
        try:
            rows = asyncio.run(partition_report(spec.source))
        except Exception as exc:  # Redis away: the report says so instead of failing
            task["partitions"] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        task["partitions"] = {"stream": spec.source.name, "rows": rows}
        for row in rows:
            if row["quarantined"]:
                report["problems"].append(
                    {
                        "level": "warning",
                        "task": task["name"],
                        "message": f"partition {row['partition']} of {spec.source.name!r} is quarantined: "
                        f"{row['quarantined']}; fix the cause, then release it "
                        "(PartitionedStream.release_quarantine)",
                    }
                )


def render_partition_status(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for task in report.get("tasks", []):
        status = task.get("partitions")
        if not status:
            continue
        if "error" in status:
            lines.append(f"Partitions of task {task['name']}: cannot read Redis ({status['error']})")
            continue
        lines.append(f"Partitions of task {task['name']} (stream {status['stream']!r}):")
        for row in status["rows"]:
            parked = " QUARANTINED" if row["quarantined"] else ""
            lag = "?" if row["lag"] is None else row["lag"]
            owner = row["owner"] or "-"
            lines.append(f"  {row['partition']:>3} owner={owner} lag={lag} pending={row['pending']}{parked}")
    return lines
