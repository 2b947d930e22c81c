"""Drain N no-op tasks through MemoryQueue: django-onestep's runtime vs onestep 1.15.

    python benchmarks/memory_queue.py --n 100000 --concurrency 16 --impl both

Each implementation runs in its own fresh subprocess (same workload, same machine,
same run) so peak RSS and CPU time are its own. Printed per implementation: tasks/s
(wall clock of the drain), CPU microseconds per task (process CPU time of the drain /
N) and peak RSS. Enqueueing the N items happens before the clock starts.
The figures move with machine load: compare the two columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _child(impl: str, n: int, concurrency: int, metrics: bool) -> dict[str, Any]:
    if impl == "ours":
        sys.path.insert(0, str(ROOT))
        from django_onestep import InMemoryMetrics, MemoryQueue, OneStepApp
    else:
        from onestep import InMemoryMetrics, MemoryQueue, OneStepApp  # type: ignore[no-redef]

    app = OneStepApp(f"bench-{impl}")
    if metrics:  # an event listener makes both runtimes build and dispatch every event
        app.on_event(InMemoryMetrics())
    queue = MemoryQueue("bench", batch_size=100)
    done = 0

    @app.task(source=queue, concurrency=concurrency)
    async def noop(ctx: Any, item: Any) -> None:
        nonlocal done
        done += 1
        if done == n:
            ctx.app.request_shutdown()

    async def main() -> dict[str, float]:
        for i in range(n):
            await queue.publish(i)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await app.serve()
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        return {"wall_s": wall, "cpu_s": cpu}

    timing = asyncio.run(main())
    if done != n:
        raise SystemExit(f"{impl}: drained {done} of {n}")
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "impl": impl,
        "n": n,
        "concurrency": concurrency,
        "tasks_per_s": n / timing["wall_s"],
        "cpu_us_per_task": timing["cpu_s"] / n * 1e6,
        "wall_s": timing["wall_s"],
        "peak_rss_mib": rss_kib / 1024,
    }


def _run(impl: str, n: int, concurrency: int, metrics: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", impl, "--n", str(n), "--concurrency", str(concurrency)]
    out = subprocess.run(
        command + (["--metrics"] if metrics else []),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{impl} run failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=50_000, help="tasks to drain (default 50000)")
    parser.add_argument("--concurrency", type=int, default=16, help="task concurrency (default 16)")
    parser.add_argument("--impl", choices=["ours", "onestep", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=1, help="alternate runs per impl; best is kept")
    parser.add_argument("--metrics", action="store_true", help="attach InMemoryMetrics (events on)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", choices=["ours", "onestep"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.n < 1 or args.concurrency < 1:
        parser.error(f"--n and --concurrency must be >= 1, got {args.n} and {args.concurrency}")
    if args.child:
        print(json.dumps(_child(args.child, args.n, args.concurrency, args.metrics)))
        return 0

    impls = ["ours", "onestep"] if args.impl == "both" else [args.impl]
    best: dict[str, dict[str, Any]] = {}
    for _ in range(max(1, args.repeat)):
        for impl in impls:  # alternate so background load hits both alike
            result = _run(impl, args.n, args.concurrency, args.metrics)
            if impl not in best or result["tasks_per_s"] > best[impl]["tasks_per_s"]:
                best[impl] = result
    if args.json:
        print(json.dumps(best, indent=2))
        return 0
    events = "on (InMemoryMetrics)" if args.metrics else "off"
    print(
        f"MemoryQueue drain: N={args.n}, concurrency={args.concurrency}, events {events}, "
        f"python {sys.version.split()[0]}"
    )
    print(f"{'impl':<10}{'tasks/s':>12}{'CPU us/task':>14}{'peak RSS MiB':>15}")
    for impl in impls:
        r = best[impl]
        print(f"{impl:<10}{r['tasks_per_s']:>12,.0f}{r['cpu_us_per_task']:>14.1f}{r['peak_rss_mib']:>15.1f}")
    if len(best) == 2:
        ratio = best["ours"]["tasks_per_s"] / best["onestep"]["tasks_per_s"]
        cpu_ratio = best["onestep"]["cpu_us_per_task"] / best["ours"]["cpu_us_per_task"]
        print(f"throughput ratio ours/onestep: {ratio:.2f}x; CPU per task onestep/ours: {cpu_ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
