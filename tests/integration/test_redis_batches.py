"""Batch handlers on a Redis stream: each entry acked, retried or dead-lettered on its own."""

from __future__ import annotations

import uuid

from django_onestep.connectors.redis import RedisConnector
from tests.integration.batch_checks import run_batches
from tests.needs import require_module

require_module("redis")


async def test_batches_on_a_stream_leave_nothing_pending(redis_url: str) -> None:
    connector = RedisConnector(redis_url)
    stream = connector.stream(f"batches-{uuid.uuid4().hex[:10]}", start_id="0", poll_interval_s=0.2)
    try:
        await run_batches(stream)
        client = await connector.acquire()
        try:
            assert int((await client.xpending(stream.name, stream.group))["pending"]) == 0
        finally:
            await connector.release()
    finally:
        await connector.close()
