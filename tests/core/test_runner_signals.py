"""app.run(): SIGTERM/SIGINT shut down gracefully; a second signal stops at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from django_onestep import MemoryQueue, OneStepApp

    app = OneStepApp("sig", shutdown_timeout_s=float(sys.argv[1]))
    queue = MemoryQueue("q", poll_interval_s=30)  # a long poll the signal must interrupt
    queue.put_nowait("job")

    @app.on_shutdown
    def bye():
        print("shutdown hook", flush=True)

    @app.task(source=queue)
    async def work(ctx, item):
        print("started", flush=True)
        await asyncio.sleep(float(sys.argv[2]))
        print("finished", flush=True)

    app.run()
    print("exited", queue.size(), flush=True)
    """
)


def _start(shutdown_timeout_s: float, handler_s: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(shutdown_timeout_s), str(handler_s)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    return proc


def test_sigterm_waits_for_inflight_work_then_exits_cleanly() -> None:
    proc = _start(shutdown_timeout_s=30, handler_s=0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["finished", "shutdown hook", "exited 0"]


def test_sigint_past_shutdown_timeout_hands_work_back() -> None:
    proc = _start(shutdown_timeout_s=0.3, handler_s=60)
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert time.monotonic() - began < 20
    assert out.splitlines() == ["shutdown hook", "exited 1"]  # cancelled, retried, not lost


def test_second_signal_stops_at_once() -> None:
    proc = _start(shutdown_timeout_s=120, handler_s=120)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert time.monotonic() - began < 20
    assert out.splitlines() == ["shutdown hook", "exited 1"]
