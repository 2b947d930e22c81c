"""Redis Streams: enqueue rate, drain throughput, CPU per task and latency at a fixed rate.

    python benchmarks/redis_stream.py --n 30000 --concurrency 16 --impl both

A private redis-server is started on a free port (AOF on, ``appendfsync everysec``, the
usual production setting; ``--fsync always`` for the durability-first setting) unless
``--url`` names one. Each measurement runs the worker in its own fresh subprocess (one
worker process, no-op handler):

* enqueue: N entries XADDed with pipelining (``RedisStream.publish_many``), entries/s.
* drain: the worker drains the N entries; tasks/s from the first handler start to the
  last, CPU microseconds per task (worker process CPU time over the same span), peak RSS.
* latency: a producer XADDs at ``--rate`` entries/s for ``--seconds``; each entry carries
  its send time and the handler records start - send; p50/p99 printed.

``--impl onestep`` runs the same workload on onestep 1.15 + onestep-redis, when
onestep-redis is importable (it is not a dependency: point ``--onestep-redis-path`` at an
unpacked wheel, e.g. ``pip download --no-deps onestep-redis`` + unzip). onestep-redis
re-reads its own pending list on every fetch, so it may run an in-flight entry twice; its
handler calls and unique entries are both reported.
The figures move with machine load: compare columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# -- worker subprocess -------------------------------------------------------------------


def _worker(impl: str, url: str, stream: str, n: int, concurrency: int) -> dict[str, Any]:
    if impl == "ours":
        from django_onestep import OneStepApp, RedisConnector
    else:
        from onestep import OneStepApp  # type: ignore[no-redef]
        from onestep_redis import RedisConnector  # type: ignore[no-redef]

    app = OneStepApp(f"bench-{impl}")
    source = RedisConnector(url).stream(
        stream, group="bench", batch_size=100, poll_interval_s=0.5, start_id="0"
    )
    calls = 0
    seen: set[Any] = set()
    latencies: list[float] = []
    marks: dict[str, float] = {}

    @app.task(source=source, concurrency=concurrency)
    async def noop(ctx: Any, item: Any) -> None:
        nonlocal calls
        now = time.time()
        if calls == 0:
            marks["wall0"], marks["cpu0"] = time.perf_counter(), time.process_time()
        calls += 1
        seen.add(item["i"])
        if "t" in item:
            latencies.append(now - item["t"])
        if len(seen) == n:
            marks["wall1"], marks["cpu1"] = time.perf_counter(), time.process_time()
            ctx.app.request_shutdown()

    async def main() -> None:
        print("ready", flush=True)
        await app.serve()

    asyncio.run(main())
    wall = marks["wall1"] - marks["wall0"]
    lat = sorted(latencies)
    return {
        "impl": impl,
        "unique": len(seen),
        "calls": calls,
        "tasks_per_s": (len(seen) - 1) / wall if wall > 0 else float("inf"),
        "cpu_us_per_task": (marks["cpu1"] - marks["cpu0"]) * 1e6 / max(1, len(seen) - 1),
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "p50_ms": lat[len(lat) // 2] * 1000 if lat else None,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else None,
    }


def _spawn_worker(args: argparse.Namespace, impl: str, stream: str, n: int) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if impl == "onestep" and args.onestep_redis_path:
        env["PYTHONPATH"] = os.pathsep.join([args.onestep_redis_path, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, __file__, "--role", "worker", "--impl", impl, "--url", args.url]
    cmd += ["--stream", stream, "--n", str(n), "--concurrency", str(args.concurrency)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit(f"{impl} worker did not start")
    return proc


def _collect(proc: subprocess.Popen[str], timeout_s: float) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout_s)
    if proc.returncode != 0:
        raise SystemExit(f"worker failed with {proc.returncode}")
    return dict(json.loads(out.strip().splitlines()[-1]))


# -- producer side ------------------------------------------------------------------------


async def _enqueue(url: str, stream: str, n: int) -> float:
    from django_onestep import RedisConnector

    connector = RedisConnector(url)
    sink = connector.stream(stream, group="bench", start_id="0")
    await sink.ensure_group()
    started = time.perf_counter()
    await sink.publish_many({"i": i} for i in range(n))
    elapsed = time.perf_counter() - started
    await connector.close()
    return n / elapsed


async def _paced(url: str, stream: str, rate: float, seconds: float) -> int:
    from django_onestep import RedisConnector

    connector = RedisConnector(url)
    sink = connector.stream(stream, group="bench", start_id="0")
    await sink.ensure_group()
    total = int(rate * seconds)
    started = time.perf_counter()
    for i in range(total):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await sink.publish({"i": i, "t": time.time()})
    await connector.close()
    return total


def _run_impl(args: argparse.Namespace, impl: str) -> dict[str, Any]:
    stream = f"bench-{impl}-{uuid.uuid4().hex[:8]}"
    enqueue_rate = asyncio.run(_enqueue(args.url, stream, args.n))
    worker = _spawn_worker(args, impl, stream, args.n)
    drain = _collect(worker, timeout_s=600)
    lat_stream = f"{stream}-lat"
    worker = _spawn_worker(args, impl, lat_stream, int(args.rate * args.seconds))
    asyncio.run(_paced(args.url, lat_stream, args.rate, args.seconds))
    latency = _collect(worker, timeout_s=600)
    return {"enqueue_per_s": enqueue_rate, **drain, "p50_ms": latency["p50_ms"], "p99_ms": latency["p99_ms"]}


def _start_redis(fsync: str) -> tuple[subprocess.Popen[bytes], str, tempfile.TemporaryDirectory[str]]:
    from tests.servers import free_port, wait_for_port

    data = tempfile.TemporaryDirectory(prefix="bench-redis-")
    port = free_port()
    cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", data.name, "--save", ""]
    cmd += ["--appendonly", "yes", "--appendfsync", fsync, "--daemonize", "no"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for_port(port, 30, proc=proc)
    return proc, f"redis://127.0.0.1:{port}/0", data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--role", default="main", choices=["main", "worker"])
    parser.add_argument("--impl", default="ours", choices=["ours", "onestep", "both"])
    parser.add_argument("--url", default=None, help="an existing Redis (default: start a private one)")
    parser.add_argument("--fsync", default="everysec", choices=["everysec", "always"])
    parser.add_argument("--stream", default="bench")
    parser.add_argument("--n", type=int, default=30000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=500.0, help="entries/s for the latency run")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the latency run")
    parser.add_argument("--onestep-redis-path", default=os.environ.get("ONESTEP_REDIS_PATH"))
    args = parser.parse_args()
    if args.role == "worker":
        print(json.dumps(_worker(args.impl, args.url, args.stream, args.n, args.concurrency)), flush=True)
        return 0
    server = None
    if args.url is None:
        server, args.url, data = _start_redis(args.fsync)
    try:
        impls = ["ours", "onestep"] if args.impl == "both" else [args.impl]
        print(f"redis streams, one worker process, no-op tasks, n={args.n}, concurrency={args.concurrency}")
        print(
            f"server: {'private, appendfsync ' + args.fsync if server else args.url}; load: {os.getloadavg()}"
        )
        for impl in impls:
            if impl == "onestep":
                probe = subprocess.run(
                    [sys.executable, "-c", "import onestep_redis"],
                    env={**os.environ, "PYTHONPATH": args.onestep_redis_path or ""},
                    capture_output=True,
                )
                if probe.returncode != 0:
                    print("onestep: skipped (onestep-redis not importable; see --onestep-redis-path)")
                    continue
            row = _run_impl(args, impl)
            print(
                f"{impl:8} enqueue {row['enqueue_per_s']:>9,.0f}/s  drain {row['tasks_per_s']:>8,.0f} tasks/s  "
                f"cpu {row['cpu_us_per_task']:6.1f} us/task  rss {row['rss_mib']:5.1f} MiB  "
                f"latency@{args.rate:.0f}/s p50 {row['p50_ms']:.2f} ms p99 {row['p99_ms']:.2f} ms  "
                f"(handler calls {row['calls']} for {row['unique']} entries)",
                flush=True,
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
            data.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
