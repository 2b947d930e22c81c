"""onestep 1.15's worker for the peers table: its MemoryQueue or onestep-redis's stream.

With a MemoryQueue the worker enqueues its own jobs (``PEER_PRODUCE``): all at once
for the drain, or paced for the latency phases, from a coroutine in the same loop.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from onestep import MemoryQueue, OneStepApp  # type: ignore[import-not-found]
from onestep.envelope import Envelope  # type: ignore[import-not-found]

from benchmarks.peers import probe

CONCURRENCY = 16


def main() -> None:
    app = OneStepApp("bench-onestep")
    url = os.environ.get("PEER_REDIS_URL")
    if url:
        from onestep_redis import RedisConnector  # type: ignore[import-not-found]

        source: Any = RedisConnector(url).stream("bench", group="bench", batch_size=100, start_id="0")
    else:
        source = MemoryQueue("bench", batch_size=100)

    @app.task(source=source, concurrency=CONCURRENCY)
    async def noop(ctx: Any, payload: Any) -> None:
        probe.record(payload)

    async def produce() -> None:
        mode, *spec = os.environ.get("PEER_PRODUCE", "").split()
        if mode == "drain":
            for i in range(int(spec[0])):
                await source.send(Envelope(body={"i": i}))
            return
        rate, paced_n, idle_n, gap_s = int(spec[0]), int(spec[1]), int(spec[2]), float(spec[3])
        await asyncio.sleep(0.5)
        await source.send(Envelope(body={"t": time.time(), "p": "warm"}))
        await asyncio.sleep(0.5)
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        for _ in range(paced_n):
            await source.send(Envelope(body={"t": time.time(), "p": "paced"}))
            next_at += 1.0 / rate
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        for _ in range(idle_n):
            await asyncio.sleep(gap_s)
            await source.send(Envelope(body={"t": time.time(), "p": "idle"}))

    async def run() -> None:
        if url is None:
            producer = asyncio.create_task(produce())
        await app.serve()
        if url is None:
            producer.cancel()

    asyncio.run(run())


if __name__ == "__main__":
    main()
