"""The no-op task of each Django peer: it only tells the probe it ran."""

import os

from benchmarks.peers import probe

PEER = os.environ.get("PEER", "ours")

if PEER == "ours":
    from django_onestep import DatabaseQueue, app

    bench = DatabaseQueue("bench")

    @app.task(source=bench, concurrency=int(os.environ.get("PEER_CONCURRENCY", "16")))
    async def noop(ctx: object, payload: object) -> None:
        probe.record(payload)

elif PEER == "django-tasks-db":
    from django_tasks import task

    @task()
    def noop(payload: object) -> None:
        probe.record(payload)

else:

    def noop(payload: object) -> None:  # django-q2 calls it by its dotted path
        probe.record(payload)
