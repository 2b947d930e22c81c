"""``MySQLConnector.table_queue`` against the real MariaDB: claims, settlements, leases, attempts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from django_onestep.connectors.mysql import MySQLConnector
from django_onestep.core.errors import ConfigurationError, ConnectorOperationError
from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.runtime.memory import MemoryQueue
from tests.integration.mysql_tables import execute, orders_table, statuses
from tests.needs import require_module

require_module("MySQLdb")


def queue(url: str, table: str, **options: Any) -> Any:
    options.setdefault("fail", {"status": "failed"})
    return MySQLConnector(url).table_queue(
        table, "id", "status = 'new'", {"status": "processing"}, {"status": "done"}, **options
    )


async def test_a_batch_is_claimed_once_and_acked(mysql_url: str) -> None:
    table = orders_table(mysql_url, 5)
    first, second = queue(mysql_url, table), queue(mysql_url, table)
    await first.open()
    await second.open()
    try:
        got = await first.fetch(3)
        other = await second.fetch(10)
        assert [d.payload["id"] for d in got] == [1, 2, 3]
        assert [d.payload["id"] for d in other] == [4, 5]  # never a row the first holds
        assert got[0].payload["status"] == "processing" and got[0].envelope.attempts == 0
        await asyncio.gather(*(d.ack() for d in got))
        assert statuses(mysql_url, table) == {"done": 3, "processing": 2}
        assert await first.fetch(10) == []
    finally:
        await first.close()
        await second.close()


async def test_an_ack_picked_as_a_deadlock_victim_again_and_again_is_written_in_the_end(
    mysql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import MySQLdb

    table = orders_table(mysql_url, 1)
    source = queue(mysql_url, table)
    await source.open()
    try:
        (delivery,) = await source.fetch(1)
        real_run = source.connector.run
        victims: list[int] = []

        async def deadlocked_four_times(fn: Any) -> Any:
            if len(victims) < 4:
                victims.append(1213)
                raise MySQLdb.OperationalError(1213, "Deadlock found when trying to get lock (injected)")
            return await real_run(fn)

        monkeypatch.setattr(source.connector, "run", deadlocked_four_times)
        await delivery.ack()
        assert victims == [1213] * 4
        assert statuses(mysql_url, table) == {"done": 1}
    finally:
        monkeypatch.undo()
        await source.close()


async def test_rows_of_a_dead_claim_come_back_after_the_lease_with_the_attempt_counted(
    mysql_url: str,
) -> None:
    table = orders_table(mysql_url, 2)
    dead, alive = queue(mysql_url, table, lease_s=1), queue(mysql_url, table, lease_s=1)
    await dead.open()
    await alive.open()
    try:
        held = await dead.fetch(10)
        await dead.close()  # stops extending: as if the worker was killed
        assert await alive.fetch(10) == []
        await asyncio.sleep(1.2)
        back = await alive.fetch(10)
        assert sorted(d.payload["id"] for d in back) == [1, 2]
        assert {d.envelope.attempts for d in back} == {1}
        await held[0].ack()  # the dead claim's token is fenced off: nothing happens
        assert statuses(mysql_url, table) == {"processing": 2}
        await asyncio.gather(*(d.ack() for d in back))
        assert statuses(mysql_url, table) == {"done": 2}
    finally:
        await alive.close()


async def test_a_live_lease_is_extended_while_the_handler_runs(mysql_url: str) -> None:
    table = orders_table(mysql_url, 1)
    holder, other = queue(mysql_url, table, lease_s=1), queue(mysql_url, table, lease_s=1)
    await holder.open()
    await other.open()
    try:
        held = await holder.fetch(1)
        await asyncio.sleep(1.6)
        assert await other.fetch(1) == []
        await held[0].ack()
        assert statuses(mysql_url, table) == {"done": 1}
    finally:
        await holder.close()
        await other.close()


async def test_retry_applies_nack_and_waits_for_the_delay(mysql_url: str) -> None:
    table = orders_table(mysql_url, 1)
    source = queue(mysql_url, table, nack={"status": "new"})
    await source.open()
    try:
        (first,) = await source.fetch(1)
        await first.retry(delay_s=0.5)
        assert statuses(mysql_url, table) == {"new": 1}
        assert await source.fetch(1) == []
        await asyncio.sleep(0.6)
        (again,) = await source.fetch(1)
        assert again.envelope.attempts == 1
        await again.release_unstarted()  # a shutdown hand-back does not count an attempt
        (third,) = await source.fetch(1)
        assert third.envelope.attempts == 1
        await third.fail()
        assert statuses(mysql_url, table) == {"failed": 1}
        assert execute(
            mysql_url, "SELECT COUNT(*) FROM onestep_table_claims WHERE table_name = %s", (table,)
        ) == [(0,)]
    finally:
        await source.close()


async def test_retry_without_nack_keeps_the_claim_state_and_comes_back(mysql_url: str) -> None:
    table = orders_table(mysql_url, 1, attempts_column=True)
    source = queue(mysql_url, table, attempts_column="tries")
    await source.open()
    try:
        (first,) = await source.fetch(1)
        await first.retry(delay_s=0)
        assert statuses(mysql_url, table) == {"processing": 1}
        await asyncio.sleep(0.01)
        (again,) = await source.fetch(1)
        assert again.envelope.attempts == 1 and again.payload["tries"] == 2
        await again.complete({"note": "shipped"})
        assert execute(mysql_url, f"SELECT status, note, tries FROM {table}") == [("done", "shipped", 2)]
    finally:
        await source.close()


async def test_a_row_that_always_fails_ends_failed_after_max_attempts_with_one_dead_letter(
    mysql_url: str,
) -> None:
    table = orders_table(mysql_url, 1)
    source = queue(mysql_url, table, nack={"status": "new"}, poll_interval_s=0.05)
    dead = MemoryQueue("dead")
    app = OneStepApp("mysql-fails")
    calls: list[int] = []

    @app.task(source=source, dead_letter=dead, retry=MaxAttempts(max_attempts=3, delay_s=0))
    async def always_fails(ctx: Any, row: Any) -> None:
        calls.append(ctx.current.attempts)
        raise RuntimeError("boom")

    await asyncio.wait_for(app.serve(until_idle=True), 30)
    assert calls == [0, 1, 2]
    assert statuses(mysql_url, table) == {"failed": 1}
    assert dead.size() == 1


async def test_update_current_row_writes_now_and_keeps_the_claim(mysql_url: str) -> None:
    table = orders_table(mysql_url, 1)
    source = queue(mysql_url, table)
    await source.open()
    try:
        (delivery,) = await source.fetch(1)
        await delivery.update_current_row({"note": "half way"})
        assert delivery.payload["note"] == "half way"
        assert execute(mysql_url, f"SELECT status, note FROM {table}") == [("processing", "half way")]
        await delivery.ack()
    finally:
        await source.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key": "idd"}, "key: column 'idd' is not in table"),
        ({"claim": {"stauts": "x"}}, "claim: column 'stauts' is not in table"),
        ({"fail": {"state": "x"}}, "fail: column 'state' is not in table"),
        ({"attempts_column": "tries"}, "attempts_column: column 'tries' is not in table"),
        ({"table": "no_such_table"}, "table: 'no_such_table' does not exist"),
    ],
)
def test_a_name_the_table_lacks_is_one_line_naming_the_option(
    mysql_url: str, options: Any, message: str
) -> None:
    table = orders_table(mysql_url, 0)
    arguments = {
        "table": table, "key": "id", "where": "status = 'new'", "claim": {"status": "processing"},
        "ack": {"status": "done"}, **options,
    }  # fmt: skip
    source = MySQLConnector(mysql_url).table_queue(**arguments)
    with pytest.raises(ConfigurationError) as caught:
        source.preflight()
    assert message in str(caught.value) and "\n" not in str(caught.value)


async def test_a_wrong_password_is_never_shown(mysql_url: str) -> None:
    url = mysql_url.replace("root@", "root:s3cr3t-pw@")
    source = MySQLConnector(url).table_queue("t", "id", "a = 1", {"a": 2}, {"a": 3})
    assert "s3cr3t-pw" not in repr(source)
    with pytest.raises(ConnectorOperationError) as caught:
        await source.open()
    assert "s3cr3t-pw" not in str(caught.value) and "s3cr3t-pw" not in repr(caught.value.cause)
    assert caught.value.kind == "misconfigured"
    await source.close()


async def test_ctx_complete_writes_back_and_acks_in_one_go(mysql_url: str) -> None:
    table = orders_table(mysql_url, 3)
    app = OneStepApp("mysql-complete")

    @app.task(source=queue(mysql_url, table, poll_interval_s=0.05), concurrency=3)
    async def ship(ctx: Any, row: Any) -> None:
        await ctx.complete({"note": f"shipped {row['id']}"})

    await asyncio.wait_for(app.serve(until_idle=True), 30)
    assert execute(mysql_url, f"SELECT id, status, note FROM {table} ORDER BY id") == [
        (1, "done", "shipped 1"), (2, "done", "shipped 2"), (3, "done", "shipped 3"),
    ]  # fmt: skip


async def test_an_expired_claim_on_a_row_locked_by_someone_else_is_not_lost(mysql_url: str) -> None:
    import MySQLdb

    from django_onestep.connectors.mysql.dsn import connect_params

    table = orders_table(mysql_url, 1)
    dead, alive = queue(mysql_url, table, lease_s=1), queue(mysql_url, table, lease_s=1)
    await dead.open()
    await dead.fetch(1)
    await dead.close()
    await asyncio.sleep(1.1)
    locker = MySQLdb.connect(**connect_params(mysql_url))  # e.g. a worker settling it right now
    locker.cursor().execute(f"SELECT * FROM {table} WHERE id = 1 FOR UPDATE")
    await alive.open()
    try:
        assert await alive.fetch(1) == []  # skipped while locked...
        locker.rollback()
        await asyncio.sleep(1.05)  # the next look at expired leases
        (back,) = await alive.fetch(1)  # ...and taken once free, not forgotten
        assert back.payload["id"] == 1 and back.envelope.attempts == 1
        await back.ack()
    finally:
        locker.close()
        await alive.close()
