"""Housekeeping loops (heartbeats, lease renewals, pruning, metrics) treat a busy
database as transient: the same round tries again within a second, without a warning."""

from __future__ import annotations

import asyncio
import logging

import pytest
from django.db import IntegrityError, OperationalError

from django_onestep.core.errors import ConnectorOperation
from django_onestep.orm.dbthread import is_transient_db_error, repeat_every, wrap_db_error

LOGGER = logging.getLogger("tests.dbthread")


def locked() -> Exception:
    cause = OperationalError("database is locked")
    error = wrap_db_error(cause, operation=ConnectorOperation.HEARTBEAT, source_name="heartbeat")
    error.__cause__ = cause
    return error


def test_what_is_transient() -> None:
    assert is_transient_db_error(OperationalError("database is locked"))
    assert is_transient_db_error(OperationalError(1213, "Deadlock found when trying to get lock"))
    assert not is_transient_db_error(OperationalError("no such table: django_onestep_job"))
    assert not is_transient_db_error(IntegrityError("UNIQUE constraint failed"))


async def run_rounds(action_results: list[Exception | None], interval_s: float, wait_s: float) -> list[float]:
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def action() -> None:
        calls.append(loop.time())
        result = action_results.pop(0) if action_results else None
        if result is not None:
            raise result

    task = asyncio.ensure_future(repeat_every(interval_s, action, logger=LOGGER, failure="beat failed"))
    await asyncio.sleep(wait_s)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return calls


async def test_a_locked_database_is_tried_again_within_the_round(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tests.dbthread"):
        calls = await run_rounds([locked(), locked()], interval_s=0.5, wait_s=0.95)
    assert len(calls) == 3  # the round's first try, then two more 50 and 200 ms apart
    assert calls[2] - calls[0] < 0.45  # not the next round, 0.5 s later
    assert caplog.records == []


async def test_an_error_that_is_not_transient_waits_for_the_next_round(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="tests.dbthread"):
        calls = await run_rounds([IntegrityError("constraint")], interval_s=0.3, wait_s=0.45)
    assert len(calls) == 1
    assert [r.getMessage() for r in caplog.records] == ["beat failed"]


@pytest.mark.django_db(transaction=True)
def test_the_lease_sweep_runs_again_when_mysql_picks_it_as_a_deadlock_victim(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django_onestep.dbqueue import maintenance

    real = maintenance.reclaim_expired
    calls: list[str] = []

    def deadlocked_once(using: str, queue: str) -> int:
        calls.append(queue)
        if len(calls) == 1:
            raise OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
        return real(using, queue)

    monkeypatch.setattr(maintenance, "reclaim_expired", deadlocked_once)
    maintenance.sweep("default", "sweep-retried")
    assert calls == ["sweep-retried", "sweep-retried"]
