"""Celery's app for the peers table: the Redis broker, results ignored."""

import os

from celery import Celery

from benchmarks.peers import probe

app = Celery("bench", broker=os.environ["PEER_REDIS_URL"])
app.conf.task_ignore_result = True


@app.task(name="noop")
def noop(payload: dict[str, object]) -> None:
    probe.record(payload)
