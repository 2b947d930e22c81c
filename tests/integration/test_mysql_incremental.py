"""``MySQLConnector.incremental`` and the cursor/state tables against the real MariaDB."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from django_onestep.connectors.mysql import MySQLConnector
from django_onestep.core.errors import ConfigurationError, ConnectorOperationError
from django_onestep.core.runtime.memory import MemoryQueue
from django_onestep.core.state import InMemoryCursorStore
from tests.integration.mysql_tables import execute
from tests.needs import require_module

require_module("MySQLdb")

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456)


def users_table(url: str, rows: list[tuple[int, datetime]]) -> str:
    name = f"users_{uuid.uuid4().hex[:10]}"
    execute(
        url,
        f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, updated_at DATETIME(6) NOT NULL, KEY (updated_at, id))",
    )
    for user_id, updated_at in rows:
        execute(url, f"INSERT INTO {name} (id, updated_at) VALUES (%s, %s)", (user_id, updated_at))
    return name


def users(url: str, table: str, **options: Any) -> Any:
    options.setdefault("state", InMemoryCursorStore())
    return MySQLConnector(url).incremental(table, "id", cursor=("updated_at",), **options)


async def test_equal_timestamps_across_a_batch_boundary_are_each_processed_once(mysql_url: str) -> None:
    table = users_table(mysql_url, [(i, T0) for i in range(1, 6)])
    source = users(mysql_url, table, batch_size=2)
    await source.open()
    seen: list[int] = []
    while batch := await source.fetch(10):
        assert len(batch) <= 2
        seen += [d.payload["id"] for d in batch]
        await asyncio.gather(*(d.ack() for d in batch))
    await source.close()
    assert seen == [1, 2, 3, 4, 5]
    assert await source.state.load(source.state_key) == [T0, 5]


async def test_an_out_of_order_ack_does_not_move_the_cursor_past_a_gap_and_a_restart_resumes(
    mysql_url: str,
) -> None:
    table = users_table(mysql_url, [(1, T0), (2, T0), (3, T0)])
    store = InMemoryCursorStore()
    source = users(mysql_url, table, state=store)
    await source.open()
    first, second, third = await source.fetch(10)
    await third.ack()
    await second.ack()
    assert await store.load(source.state_key) is None  # row 1 is still running
    await first.ack()
    assert await store.load(source.state_key) == [T0, 3]
    await source.close()
    execute(mysql_url, f"INSERT INTO {table} (id, updated_at) VALUES (4, %s)", (T0,))
    restarted = users(mysql_url, table, state=store)
    await restarted.open()
    assert [d.payload["id"] for d in await restarted.fetch(10)] == [4]
    await restarted.close()


async def test_a_restart_before_the_gap_is_acked_reads_the_unacked_rows_again(mysql_url: str) -> None:
    table = users_table(mysql_url, [(1, T0), (2, T0)])
    store = InMemoryCursorStore()
    source = users(mysql_url, table, state=store)
    await source.open()
    _first, second = await source.fetch(10)
    await second.ack()
    await source.close()  # the worker stops with row 1 unfinished
    again = users(mysql_url, table, state=store)
    await again.open()
    assert [d.payload["id"] for d in await again.fetch(10)] == [1, 2]
    await again.close()


async def test_a_retried_row_comes_back_before_newer_rows_and_a_terminal_failure_fences(
    mysql_url: str,
) -> None:
    table = users_table(mysql_url, [(1, T0), (2, T0)])
    source = users(mysql_url, table, batch_size=1)
    await source.open()
    (first,) = await source.fetch(10)
    await first.retry(delay_s=0)
    (again,) = await source.fetch(10)
    assert again.payload["id"] == 1 and again.envelope.attempts == 1
    await again.fail(RuntimeError("bad row"))
    with pytest.raises(
        ConnectorOperationError, match=r"fenced at cursor \[datetime.*, 1\].*RuntimeError: bad row"
    ):
        await source.fetch(10)
    assert await source.state.load(source.state_key) is None  # never passed silently
    await source.close()


async def test_dead_letter_mode_stores_the_row_and_moves_on(mysql_url: str) -> None:
    table = users_table(mysql_url, [(1, T0), (2, T0)])
    source = users(mysql_url, table, on_failure="dead_letter")
    dead = MemoryQueue("dead")
    await source.open()
    first, second = await source.fetch(10)
    assert await first.fail_to_dead_letter(dead, first.envelope) is True
    await second.ack()
    assert dead.size() == 1
    assert await source.state.load(source.state_key) == [T0, 2]
    await source.close()


async def test_lag_s_waits_for_a_late_committing_writer(mysql_url: str) -> None:
    table = users_table(mysql_url, [])
    execute(mysql_url, f"INSERT INTO {table} (id, updated_at) VALUES (2, NOW(6))")
    eager, lagging = users(mysql_url, table), users(mysql_url, table, lag_s=1)
    await eager.open()
    await lagging.open()
    assert [d.payload["id"] for d in await eager.fetch(10)] == [2]
    assert await lagging.fetch(10) == []  # row 2 is newer than the lag
    # a writer whose transaction began earlier commits now, with an earlier timestamp
    execute(
        mysql_url, f"INSERT INTO {table} (id, updated_at) VALUES (1, NOW(6) - INTERVAL 300000 MICROSECOND)"
    )
    assert await eager.fetch(10) == []  # without lag_s row 1 is behind the cursor: skipped
    await asyncio.sleep(1.3)
    assert [d.payload["id"] for d in await lagging.fetch(10)] == [1, 2]
    await eager.close()
    await lagging.close()


async def test_the_cursor_store_reads_and_writes_onestep_s_layout(mysql_url: str) -> None:
    table = f"cursors_{uuid.uuid4().hex[:8]}"
    connector = MySQLConnector(mysql_url)
    store = connector.cursor_store(table)
    await store.save("users:updated_at,id:key=id:where=-", [T0, 7, Decimal("1.50")])
    assert await store.load("users:updated_at,id:key=id:where=-") == [T0, 7, Decimal("1.50")]
    # a row onestep-sql wrote: its datetime tag is read back as a datetime
    value = json.dumps([{"__onestep_cursor_type__": "datetime", "value": "2025-05-06T07:08:09.000001"}, 3])
    execute(
        mysql_url,
        f"INSERT INTO {table} (cursor_key, cursor_value, updated_at) VALUES ('old', %s, NOW())",
        (value,),
    )
    assert await store.load("old") == [datetime(2025, 5, 6, 7, 8, 9, 1), 3]
    columns = execute(
        mysql_url,
        f"SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION",
    )
    assert columns == [("cursor_key",), ("cursor_value",), ("updated_at",)]
    state = connector.state_store(f"state_{uuid.uuid4().hex[:8]}")
    await state.save("k", {"a": 1})
    assert await state.load("k") == {"a": 1}
    await state.delete("k")
    assert await state.load("k") is None
    await connector.close()


async def test_the_default_cursor_store_is_onestep_s_table_and_key(mysql_url: str) -> None:
    table = users_table(mysql_url, [(1, T0)])
    source = MySQLConnector(mysql_url).incremental(table, "id", cursor=("updated_at",))
    assert source.state_key == f"{table}:updated_at,id:key=id:where=-"
    await source.open()
    (delivery,) = await source.fetch(10)
    await delivery.ack()
    await source.close()
    rows = execute(
        mysql_url, "SELECT cursor_value FROM onestep_cursor WHERE cursor_key = %s", (source.state_key,)
    )
    assert json.loads(rows[0][0]) == [{"__onestep_cursor_type__": "datetime", "value": T0.isoformat()}, 1]


def test_a_cursor_column_the_table_lacks_is_named(mysql_url: str) -> None:
    table = users_table(mysql_url, [])
    source = MySQLConnector(mysql_url).incremental(table, "id", cursor=("modified_at",))
    with pytest.raises(
        ConfigurationError, match=rf"mysql incremental '{table}' cursor: column 'modified_at' is not in table"
    ):
        source.preflight()


def test_lag_s_needs_a_temporal_first_cursor_column(mysql_url: str) -> None:
    table = users_table(mysql_url, [])
    source = MySQLConnector(mysql_url).incremental(table, "id", cursor=("id",), lag_s=5)
    with pytest.raises(
        ConfigurationError,
        match=rf"incremental '{table}' lag_s: needs a date or time first cursor column; 'id' is bigint",
    ):
        source.preflight()
