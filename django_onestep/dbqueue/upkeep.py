"""The two background loops an open ``DatabaseQueue`` runs in its worker."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..core.errors import ConnectorOperation
from . import maintenance

if TYPE_CHECKING:
    from .queue import DatabaseQueue

__all__ = ["lease_loop", "prune_loop"]

logger = logging.getLogger("django_onestep.dbqueue")


async def lease_loop(queue: DatabaseQueue) -> None:
    """Extend the leases of every job ``queue`` holds, every ``lease_s / 3``.

    Only held jobs (claimed and not yet settled) are extended: a job whose settlement
    failed is forgotten, so its lease runs out and another claim picks it up.
    """
    interval_s = queue.lease_s / 3
    while True:
        await asyncio.sleep(interval_s)
        held = [(d.job_id, d.token) for d in queue._held.values()]
        thread = queue._ack_thread
        if not held or thread is None:
            continue
        try:
            await thread.run(
                maintenance.extend_leases, queue.using, queue.worker_id, held, queue.lease_s,
                operation=ConnectorOperation.HEARTBEAT, source_name=queue.name,
            )  # fmt: skip
        except Exception:
            logger.warning("extending leases of %s failed; retrying", queue, exc_info=True)


async def prune_loop(queue: DatabaseQueue) -> None:
    """Delete old ``done`` rows every ``prune_interval_s`` (small batches)."""
    while True:
        await asyncio.sleep(queue.prune_interval_s)
        thread = queue._ack_thread
        if queue.done_retention_s is None or thread is None:
            continue
        try:
            await thread.run(queue.prune_sync, operation=ConnectorOperation.FETCH, source_name=queue.name)
        except Exception:
            logger.warning("pruning done jobs of %s failed; retrying later", queue, exc_info=True)
