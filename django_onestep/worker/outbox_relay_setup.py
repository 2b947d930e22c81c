"""The outbox relay a worker runs beside its tasks (``ONESTEP["OUTBOX_RELAY_IN_WORKER"]``).

On by default: with no outbox rows it costs one indexed query every half second, and
a project that turns the outbox on needs no other process. Off for ``--once`` runs and
``--skip-local-sources`` workers, which do not run local background work either.
"""

from __future__ import annotations

from django_onestep.conf import get_settings
from django_onestep.outbox.relay import OutboxRelay
from django_onestep.outbox.relay_thread import RelayThread
from django_onestep.worker.options import WorkerOptions

__all__ = ["start_worker_relay"]


def start_worker_relay(options: WorkerOptions) -> RelayThread | None:
    conf = get_settings()
    if not conf.OUTBOX_RELAY_IN_WORKER or options.once or options.skip_local_sources:
        return None
    relay = RelayThread(OutboxRelay(using=conf.DATABASE))
    relay.start()
    return relay
