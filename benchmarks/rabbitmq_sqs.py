"""RabbitMQ and SQS (moto) figures: enqueue rate, drain throughput, latency, RSS.

    make services   # or: .venv/bin/python -m tests.servers start rabbitmq moto
    source .services/env && .venv/bin/python benchmarks/rabbitmq_sqs.py

Same workload as the other benchmarks: N no-op tasks enqueued, then drained by one worker (this
process: an OneStepApp with one async no-op task at ``--concurrency``); then p50/p99
enqueue-to-start latency at a fixed rate while the worker runs. Figures only: nothing is
asserted. moto is an in-memory Python server, so SQS figures measure moto far more than
the connector; real SQS adds ~10-30 ms per call and scales by adding workers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django_onestep.core.base import Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.runtime.app import OneStepApp


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drain(source: Source, n: int, concurrency: int) -> float:
    """Run a no-op task until ``n`` are done; return tasks/s."""
    app = OneStepApp(f"bench-{uuid.uuid4().hex[:6]}", shutdown_timeout_s=10)
    done = 0
    finished = asyncio.Event()

    @app.task(source=source, concurrency=concurrency)
    async def noop(ctx: Any, payload: Any) -> None:
        nonlocal done
        done += 1
        if done >= n:
            finished.set()

    started = time.perf_counter()
    serving = asyncio.create_task(app.serve())
    await asyncio.wait_for(finished.wait(), timeout=600)
    elapsed = time.perf_counter() - started
    app.request_shutdown()
    await serving
    return n / elapsed


async def latency(
    source: Source, sink: Sink, rate: float, seconds: float, concurrency: int
) -> tuple[float, float, int]:
    """Publish ``rate``/s for ``seconds`` (one confirmed send each); p50/p99 to handler start."""
    app = OneStepApp(f"bench-lat-{uuid.uuid4().hex[:6]}", shutdown_timeout_s=10)
    samples: list[float] = []
    total = int(rate * seconds)
    all_seen = asyncio.Event()

    @app.task(source=source, concurrency=concurrency)
    async def probe(ctx: Any, payload: Any) -> None:
        samples.append(time.time() - payload["t"])
        if len(samples) >= total:
            all_seen.set()

    serving = asyncio.create_task(app.serve())
    await asyncio.sleep(1.0)  # connected and consuming before the clock starts
    begin = time.perf_counter()
    for i in range(total):
        delay = begin + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await sink.send(Envelope(body={"t": time.time()}))
    try:
        await asyncio.wait_for(all_seen.wait(), 60)
    except TimeoutError:
        print(f"  latency probe: only {len(samples)} of {total} arrived within 60 s", flush=True)
    app.request_shutdown()
    await serving
    ms = [s * 1000 for s in samples]
    return _pct(ms, 0.5), _pct(ms, 0.99), len(samples)


async def enqueue(
    send_many: Callable[[list[Envelope]], Awaitable[None]], n: int, chunk: int, parallel: int
) -> float:
    sem = asyncio.Semaphore(parallel)

    async def one(start: int) -> None:
        async with sem:
            await send_many([Envelope(body={"i": i}) for i in range(start, min(n, start + chunk))])

    started = time.perf_counter()
    await asyncio.gather(*(one(s) for s in range(0, n, chunk)))
    return n / (time.perf_counter() - started)


async def bench_rabbitmq(url: str, n: int, concurrency: int, rate: float, seconds: float) -> dict[str, Any]:
    from django_onestep.connectors.rabbitmq import RabbitMQConnector

    rmq = RabbitMQConnector(url)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    producer = rmq.queue(name)
    enqueue_rate = await enqueue(producer.send_many, n, chunk=1000, parallel=1)
    throughput = await drain(
        rmq.queue(name, prefetch=max(200, concurrency * 8), poll_interval_s=0.05), n, concurrency
    )
    p50, p99, count = await latency(
        rmq.queue(name, poll_interval_s=0.05), producer, rate, seconds, concurrency
    )
    await producer.close()
    _delete_queue(url, name)
    return {"enqueue/s": enqueue_rate, "tasks/s": throughput, "p50 ms": p50, "p99 ms": p99, "samples": count}


def _delete_queue(url: str, name: str) -> None:
    """Leave nothing behind on a broker others use (the queue is empty by now)."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        conn.channel().queue_delete(name)
    finally:
        conn.close()


def raw_boto3_drain(client: Any, url: str, n: int) -> float:
    """Baseline: one thread doing receive(10) + delete_message_batch, nothing else."""
    started, done = time.perf_counter(), 0
    while done < n:
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if messages:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            client.delete_message_batch(QueueUrl=url, Entries=entries)
        done += len(messages)
    return n / (time.perf_counter() - started)


async def bench_sqs(endpoint: str, n: int, concurrency: int, rate: float, seconds: float) -> dict[str, Any]:
    import boto3

    from django_onestep.connectors.sqs import SQSConnector

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "x")
    sqs = SQSConnector(region_name="us-east-1", endpoint_url=endpoint)
    url = (await sqs.call("create_queue", QueueName=f"bench-{uuid.uuid4().hex[:8]}"))["QueueUrl"]
    producer = sqs.queue(url)
    enqueue_rate = await enqueue(producer.send_many, n, chunk=10, parallel=8)
    throughput = await drain(sqs.queue(url, wait_time_s=1), n, concurrency)
    await enqueue(producer.send_many, n, chunk=10, parallel=8)
    client = boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint)
    raw_rate = await asyncio.to_thread(raw_boto3_drain, client, url, n)
    p50, p99, count = await latency(sqs.queue(url, wait_time_s=1), producer, rate, seconds, concurrency)
    return {
        "enqueue/s": enqueue_rate,
        "tasks/s": throughput,
        "raw boto3 drain/s": raw_rate,
        "p50 ms": p50,
        "p99 ms": p99,
        "samples": count,
    }


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    if value:
        return value
    env_file = Path(__file__).resolve().parent.parent / ".services" / "env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith(f"export {name}="):
                return line.split("=", 1)[1]
    return None


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rabbitmq-n", type=int, default=20000)
    parser.add_argument("--sqs-n", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=500.0, help="latency probe: messages per second")
    parser.add_argument("--sqs-rate", type=float, default=50.0, help="latency probe rate for moto")
    parser.add_argument("--seconds", type=float, default=5.0, help="latency probe duration")
    parser.add_argument("--only", choices=["rabbitmq", "sqs"])
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, concurrency {args.concurrency}", flush=True
    )
    if args.only in (None, "rabbitmq"):
        url = _env("ONESTEP_TEST_AMQP_URL")
        if url:
            r = await bench_rabbitmq(url, args.rabbitmq_n, args.concurrency, args.rate, args.seconds)
            print(
                f"rabbitmq N={args.rabbitmq_n}: " + ", ".join(f"{k} {v:,.1f}" for k, v in r.items()),
                flush=True,
            )
        else:
            print("rabbitmq: ONESTEP_TEST_AMQP_URL not set, skipped")
    if args.only in (None, "sqs"):
        # A private, empty moto: the shared one slows down with every queue others left in it.
        from tests.servers import MotoServer

        moto = MotoServer(Path(tempfile.mkdtemp(prefix="bench-moto-"))).start()
        try:
            r = await bench_sqs(moto.url, args.sqs_n, args.concurrency, args.sqs_rate, args.seconds)
            print(
                f"sqs (moto) N={args.sqs_n}: " + ", ".join(f"{k} {v:,.1f}" for k, v in r.items()), flush=True
            )
        finally:
            moto.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS of this process (worker + producer): {rss_mb:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
