"""``manage.py onestep_check`` shows a partitioned stream's owners, lag and quarantined partitions."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from django_onestep.connectors.redis import RedisConnector
from django_onestep.connectors.redis.partition_status import render_partition_status
from tests.needs import require_module

require_module("redis")

pytestmark = pytest.mark.sqlite_only  # reads Redis only: once is enough
TARGET = "tests.integration.apps.redis_partitions_app:app"


async def prepare(url: str, stream: str) -> int:
    """Five events of one key, a lease held by ``w-1`` on their partition, partition 3 parked."""
    connector = RedisConnector(url)
    sink = connector.partitioned_stream(stream, partitions=16, key=lambda payload: payload["key"])
    await sink.publish_many({"key": "k", "seq": seq} for seq in range(5))
    client = await connector.acquire()
    partition = sink.partition_of({"key": "k"})
    await client.xgroup_create(f"{stream}:{partition}", "onestep", id="0")
    await client.set(f"{stream}:onestep:lease:{partition}", "w-1|7", px=60_000)
    await client.hset(
        f"{stream}:onestep:quarantine", "3", json.dumps({"entry_id": "1-0", "error": "ValueError: x"})
    )
    await connector.close()
    return partition


def test_check_lists_owner_lag_and_quarantined_partitions(manage, redis_url: str) -> None:
    stream = f"check-{uuid.uuid4().hex[:8]}"
    partition = asyncio.run(prepare(redis_url, stream))
    env = {"P_REDIS_URL": redis_url, "P_STREAM": stream}
    result = manage.run("onestep_check", "--json", TARGET, env=env)
    report = json.loads(result.stdout)
    task = next(task for task in report["tasks"] if task["name"] == "handle")
    rows = task["partitions"]["rows"]
    assert len(rows) == 16
    assert rows[partition] == {
        "partition": partition,
        "owner": "w-1",
        "lag": 5,
        "pending": 0,
        "quarantined": None,
    }
    assert rows[3]["quarantined"] and "ValueError: x" in rows[3]["quarantined"]
    messages = [problem["message"] for problem in report["problems"]]
    assert any(m.startswith(f"partition 3 of {stream!r} is quarantined") for m in messages), messages
    text = "\n".join(render_partition_status(report)) + "\n"  # what the text form prints
    assert f"  {partition:>3} owner=w-1 lag=5 pending=0\n" in text
    assert "    3 owner=- lag=0 pending=0 QUARANTINED\n" in text
