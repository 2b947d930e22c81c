"""Measure one peer: drain rate, worker CPU per task, latency paced and from idle, RSS.

Stdlib only (it runs in each peer's venv). The worker is a real subprocess (the peer's
own command); its CPU and RSS are read from /proc for its whole process tree, so peers
that fork workers are charged for all of them. Rates come from the probe's own clock:
``(n - 1) / (done - first)``, so start-up time is not counted for anyone.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[2]
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


class Peer(Protocol):
    """What run.py builds for each row: a fresh backend, enqueue and the worker command."""

    in_process: bool  # the worker enqueues its own jobs (a MemoryQueue)

    def reset(self) -> None: ...
    def enqueue_many(self, n: int) -> None: ...
    def enqueue_one(self, payload: dict[str, Any]) -> None: ...
    def worker_command(self) -> tuple[list[str], dict[str, str]]: ...


@dataclass
class Figures:
    tasks_per_s: float = 0.0
    cpu_us_per_task: float = 0.0
    paced_p50_ms: float | None = None
    paced_p99_ms: float | None = None
    idle_p50_ms: float | None = None
    idle_max_ms: float | None = None
    peak_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return pids


def _cpu_s(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1])
        except OSError:
            continue
    return total * PAGE / 1e6


class Worker:
    """The peer's worker process, with its probe directory and an RSS watch."""

    def __init__(self, peer: Peer, expect: int, produce: str = "") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="peer-probe-"))
        cmd, env = peer.worker_command()
        env = {**os.environ, **env, "PEER_PROBE_DIR": str(self.dir), "PEER_EXPECT": str(expect)}
        if produce:
            env["PEER_PRODUCE"] = produce
        self.log = open(self.dir / "worker.log", "w")
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # fmt: skip
        self.peak_rss_mb = 0.0
        self._next_rss = 0.0

    def watch(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited with {self.proc.returncode}: {self.tail()}")
        now = time.monotonic()
        if now >= self._next_rss:
            self.peak_rss_mb = max(self.peak_rss_mb, _rss_mb(_tree(self.proc.pid)))
            self._next_rss = now + 0.05

    def wait_for(self, name: str, timeout_s: float) -> float:
        path, deadline = self.dir / name, time.monotonic() + timeout_s
        while not path.exists():
            self.watch()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {name!r} from the worker after {timeout_s} s: {self.tail()}")
            time.sleep(0.002)
        return float(path.read_text())

    def latency_lines(self) -> list[tuple[str, float]]:
        path = self.dir / "latency"
        if not path.exists():
            return []
        return [(p, float(ms)) for p, ms in (line.split() for line in path.read_text().splitlines())]

    def wait_lines(self, count: int, timeout_s: float) -> list[tuple[str, float]]:
        deadline = time.monotonic() + timeout_s
        while len(lines := self.latency_lines()) < count:
            self.watch()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(lines)} of {count} latency lines after {timeout_s} s: {self.tail()}"
                )
            time.sleep(0.005)
        return lines

    def cpu_s(self) -> float:
        return _cpu_s(_tree(self.proc.pid))

    def tail(self) -> str:
        self.log.flush()
        return (self.dir / "worker.log").read_text()[-2000:]

    def stop(self) -> None:
        with _suppress():
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], ProcessLookupError)  # type: ignore[arg-type]


def drain(peer: Peer, n: int, figures: Figures, timeout_s: float) -> None:
    peer.reset()
    if not peer.in_process:
        peer.enqueue_many(n)
    worker = Worker(peer, n, produce=f"drain {n}" if peer.in_process else "")
    try:
        first = worker.wait_for("first", timeout_s)
        cpu_first = worker.cpu_s()
        done = worker.wait_for("done", timeout_s)
        cpu_done = worker.cpu_s()
        worker.watch()
    finally:
        worker.stop()
    figures.tasks_per_s = (n - 1) / max(done - first, 1e-9)
    figures.cpu_us_per_task = (cpu_done - cpu_first) / (n - 1) * 1e6
    figures.peak_rss_mb = max(figures.peak_rss_mb, worker.peak_rss_mb)


def latency(peer: Peer, rate: int, paced_s: float, idle_n: int, gap_s: float, figures: Figures) -> None:
    """A warm-up job, ``rate * paced_s`` jobs paced at ``rate``/s, then ``idle_n`` jobs
    each after ``gap_s`` of quiet (longer than every peer's idle back-off)."""
    peer.reset()
    paced_n = int(rate * paced_s)
    produce = f"latency {rate} {paced_n} {idle_n} {gap_s}" if peer.in_process else ""
    worker = Worker(peer, 10**9, produce=produce)
    try:
        if peer.in_process:
            lines = worker.wait_lines(1 + paced_n + idle_n, 60 + paced_s + idle_n * (gap_s + 5))
        else:
            lines = _produce(peer, worker, rate, paced_n, idle_n, gap_s)
    finally:
        worker.stop()
    paced = sorted(ms for p, ms in lines if p == "paced")
    idle = sorted(ms for p, ms in lines if p == "idle")
    figures.paced_p50_ms = statistics.median(paced)
    figures.paced_p99_ms = paced[min(len(paced) - 1, int(len(paced) * 0.99))]
    figures.idle_p50_ms = statistics.median(idle)
    figures.idle_max_ms = idle[-1]
    figures.peak_rss_mb = max(figures.peak_rss_mb, worker.peak_rss_mb)


def _produce(
    peer: Peer, worker: Worker, rate: int, paced_n: int, idle_n: int, gap_s: float
) -> list[tuple[str, float]]:
    peer.enqueue_one({"t": time.time(), "p": "warm"})
    worker.wait_lines(1, 120)
    interval, next_at = 1.0 / rate, time.perf_counter()
    for _ in range(paced_n):
        peer.enqueue_one({"t": time.time(), "p": "paced"})
        next_at += interval
        if (pause := next_at - time.perf_counter()) > 0:
            time.sleep(pause)
        worker.watch()
    worker.wait_lines(1 + paced_n, 120)
    for i in range(idle_n):
        deadline = time.monotonic() + gap_s
        while time.monotonic() < deadline:
            worker.watch()
            time.sleep(0.05)
        peer.enqueue_one({"t": time.time(), "p": "idle"})
        worker.wait_lines(2 + paced_n + i, 30)
    return worker.latency_lines()
