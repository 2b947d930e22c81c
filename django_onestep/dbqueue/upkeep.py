"""The two background loops an open ``DatabaseQueue`` runs in its worker."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django_onestep.core.errors import ConnectorOperation
from django_onestep.dbqueue import job_control, maintenance
from django_onestep.orm.dbthread import repeat_every

if TYPE_CHECKING:
    from django_onestep.dbqueue.queue import DatabaseQueue

__all__ = ["lease_loop", "prune_loop"]

logger = logging.getLogger("django_onestep.dbqueue")


async def lease_loop(queue: DatabaseQueue) -> None:
    """Extend the leases of every job ``queue`` holds, every ``lease_s / 3``.

    Only held jobs (claimed and not yet settled) are extended: a job whose settlement
    failed is forgotten, so its lease runs out and another claim picks it up. Each round
    also asks which held jobs were cancelled while running, and stops them.
    """

    async def extend() -> None:
        held = queue.held_claims()
        thread = queue.write_thread
        if not held or thread is None:
            return
        await thread.run(
            maintenance.extend_leases, queue.using, queue.worker_id, held, queue.lease_s,
            operation=ConnectorOperation.HEARTBEAT, source_name=queue.name,
        )  # fmt: skip
        aborted = await thread.run(
            job_control.aborts_among, queue.using, [job_id for job_id, _ in held],
            operation=ConnectorOperation.HEARTBEAT, source_name=queue.name,
        )  # fmt: skip
        if aborted:
            queue.request_aborts(aborted)

    await repeat_every(
        queue.lease_s / 3, extend, logger=logger, failure=f"extending leases of {queue} failed; retrying"
    )


async def prune_loop(queue: DatabaseQueue) -> None:
    """Delete old ``done`` rows every ``prune_interval_s`` (small batches)."""

    async def prune() -> None:
        thread = queue.write_thread
        if queue.done_retention_s is None or thread is None:
            return
        await thread.run(queue.prune_sync, operation=ConnectorOperation.FETCH, source_name=queue.name)

    await repeat_every(
        queue.prune_interval_s,
        prune,
        logger=logger,
        failure=f"pruning done jobs of {queue} failed; retrying later",
    )
