"""Batch handlers on the database queue, in-process, on every database of the run."""

from __future__ import annotations

import pytest

from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import DeadLetter
from django_onestep.orm.dead_letters import DatabaseDeadLetters
from tests.django.dbqueue_helpers import job_rows, orm, unique_name

pytestmark = pytest.mark.django_db(transaction=True)


def dead_letters_factory(app: OneStepApp, spec: object) -> DatabaseDeadLetters:
    return DatabaseDeadLetters(app_name=app.name, task=spec.name)  # type: ignore[attr-defined]


async def test_batches_settle_each_job_by_its_own_outcome() -> None:
    app = OneStepApp("batches", dead_letter_factory=dead_letters_factory)
    queue = DatabaseQueue(unique_name(), fetch_wait_s=0.05, batch_size=4)  # a batch takes 3 claims
    task_name = unique_name("batch")
    runs: list[list[tuple[int, int]]] = []

    @app.task(name=task_name, source=queue, retry=MaxAttempts(2), batch_size=10, batch_within_s=0.3)
    async def work(ctx, payloads):  # type: ignore[no-untyped-def]
        runs.append([(item.payload["n"], item.attempts) for item in ctx.batch])
        for item in ctx.batch:
            n = item.payload["n"]
            if n == 3 and item.attempts == 0:
                ctx.batch.retry(item)
            elif n == 7:
                ctx.batch.fail(item, ValueError("seven always fails"))
            elif n == 11:
                ctx.batch.dead_letter(item, ValueError("eleven is refused"))

    await orm(queue.send_many)([{"n": n} for n in range(25)])
    await app.serve(until_idle=True)

    # the two retried jobs come back at once, and may join the last batch of new ones
    assert [len(run) for run in runs[:2]] == [10, 10]
    assert all(len(run) <= 10 for run in runs)
    seen = sorted(pair for run in runs for pair in run)
    assert seen == sorted([(n, 0) for n in range(25)] + [(3, 1), (7, 1)])
    rows = {row["payload"]["n"]: row for row in await orm(job_rows)(queue.name)}
    dead = {n for n, row in rows.items() if row["status"] == "dead"}
    assert dead == {7, 11}
    assert all(row["status"] == "done" for n, row in rows.items() if n not in dead)
    assert (rows[3]["attempts"], rows[7]["attempts"], rows[11]["attempts"]) == (2, 2, 1)
    letters = await orm(
        lambda: dict(DeadLetter.objects.filter(task=task_name).values_list("payload__n", "message"))
    )()
    assert letters == {7: "seven always fails", 11: "eleven is refused"}
