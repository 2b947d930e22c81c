"""``onestep_worker --processes N``: N worker processes under one supervisor.

Each child is a fresh interpreter running ``onestep_worker`` with the same options and
``--processes 1`` (spawned, never forked: no inherited connections or threads). The
supervisor:

- forwards SIGTERM/SIGINT to every child: the first makes them drain gracefully, a
  second makes them exit at once (and the supervisor with them);
- restarts a child that exits while the pool is running: at once after a clean exit
  (``--max-tasks``, ``--max-tasks-per-child`` or ``--max-memory-per-child`` reached: the
  child recycled itself), with a capped backoff after a crash, and stops everything
  with exit 2 if a child reports bad configuration;
- stops the pool with exit 1 on a crash loop (``crash_loop.py``) instead of restarting
  for ever;
- with ``--once``, waits for every child to drain and exits with the worst code.

A crashed child's in-flight work is not the supervisor's to recover: its claims expire
with their lease and another child claims them again.

With ``--healthcheck-port P``, the supervisor serves the pool's probes on ``P``
(``pool_health.py``) and child ``i`` (0-based) its own on ``P + 1 + i``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django_onestep.worker.crash_loop import CrashLoopDetector
from django_onestep.worker.options import WorkerOptions
from django_onestep.worker.pool_health import PoolHealthServer

__all__ = ["Supervisor"]

logger = logging.getLogger("django_onestep.worker")

_POLL_S = 0.2
_MAX_BACKOFF_S = 30.0
# A child that ran this long before crashing was healthy: its restart starts the
# backoff over instead of waiting as long as after its last crash days ago.
_STABLE_S = 60.0
EXIT_CONFIG = 2


def child_command(options: WorkerOptions, index: int) -> list[str]:
    args = [sys.executable, "-m", "django", "onestep_worker"]
    if options.target:
        args.append(options.target)
    for flag, names in (
        ("--tasks", options.tasks),
        ("--exclude-tasks", options.exclude_tasks),
        ("--queues", options.queues),
    ):
        if names:
            args += [flag, ",".join(names)]
    if options.concurrency is not None:
        args += ["--concurrency", str(options.concurrency)]
    if options.health_enabled:
        port = int(options.healthcheck_port or 0)
        args += ["--healthcheck-port", str(port + 1 + index), "--healthcheck-host", options.healthcheck_host]
    if options.shutdown_timeout_s is not None:
        args += ["--shutdown-timeout", str(options.shutdown_timeout_s)]
    if options.once:
        args.append("--once")
    if options.max_tasks is not None:
        args += ["--max-tasks", str(options.max_tasks)]
    if options.max_tasks_per_child is not None:
        args += ["--max-tasks-per-child", str(options.max_tasks_per_child)]
    if options.max_memory_per_child_kib is not None:
        args += ["--max-memory-per-child", str(options.max_memory_per_child_kib)]
    if options.log_format:
        args += ["--log-format", options.log_format]
    if options.skip_local_sources or index > 0:
        args.append("--skip-local-sources")  # each schedule fires once per machine, not per child
    args += ["--log-level", options.log_level, "--processes", "1", "--pool-child"]
    return args


def child_env() -> dict[str, str]:
    from django.conf import settings

    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = settings.SETTINGS_MODULE
    # the same import path as this process, wherever manage.py lives
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Supervisor:
    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.backoff_s: dict[int, float] = {}
        self.restart_at: dict[int, float] = {}
        self.started_at: dict[int, float] = {}
        self.signals_seen = 0
        self.last_signal = signal.SIGTERM
        self.final_codes: list[int] = []
        self.crash_loop = CrashLoopDetector(options.processes)
        self.crash_looping = False
        self.health: PoolHealthServer | None = None

    def run(self) -> int:
        env = child_env()
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            if self.options.health_enabled:
                self.health = PoolHealthServer(
                    self.pool_status, int(self.options.healthcheck_port or 0), self.options.healthcheck_host
                )
                self.health.start()
            for index in range(self.options.processes):
                self._start(index, env)
            logger.info("supervisor pid %s: %s worker processes", os.getpid(), self.options.processes)
            self._loop(env)
        finally:
            if self.health is not None:
                self.health.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self._exit_code()

    def pool_status(self) -> dict[str, Any]:
        """What the pool's ``/readyz`` reports (read from the health thread)."""
        children = dict(self.children)
        alive = {index: child.pid for index, child in children.items() if child.poll() is None}
        port = self.options.healthcheck_port
        return {
            "size": self.options.processes,
            "alive": len(alive),
            "pids": sorted(alive.values()),
            "stopping": bool(self.signals_seen),
            "crash_loop": self.crash_looping,
            "recent_crashes": self.crash_loop.recent_crashes,
            "child_ports": [port + 1 + index for index in sorted(alive)] if port else [],
        }

    def _start(self, index: int, env: dict[str, str]) -> None:
        # Own session: a Ctrl-C reaches only the supervisor, which forwards it once.
        self.started_at[index] = time.monotonic()
        self.children[index] = subprocess.Popen(
            child_command(self.options, index), env=env, start_new_session=True
        )

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals_seen += 1
        self.last_signal = signal.Signals(signum)
        self.restart_at.clear()
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signum)
        if self.signals_seen == 1:
            logger.warning(
                "%s: stopping %s worker processes gracefully", self.last_signal.name, len(self.children)
            )

    def _loop(self, env: dict[str, str]) -> None:
        while self.children or self.restart_at:
            time.sleep(_POLL_S)
            if self.health is not None:
                self.health.tick()
            for index, child in list(self.children.items()):
                code = child.poll()
                if code is not None:
                    del self.children[index]
                    self._child_exited(index, child.pid, code)
            for index, when in list(self.restart_at.items()):
                if time.monotonic() >= when:
                    del self.restart_at[index]
                    self._start(index, env)

    def _child_exited(self, index: int, pid: int, code: int) -> None:
        """Decide what a child's exit means: keep its code, stop the pool, or restart it."""
        if self.signals_seen and code in (-signal.SIGTERM, -signal.SIGINT):
            # the forwarded signal reached a child still starting up (before its
            # handlers existed): it had claimed nothing, so this is a clean stop
            code = 0
        if self.signals_seen or self.options.once:
            self.final_codes.append(code)  # draining: not replaced
        elif code == EXIT_CONFIG:
            self.final_codes.append(code)
            logger.error("worker process %s exited 2 (bad configuration): stopping the others", pid)
            self._on_signal(signal.SIGTERM, None)
        elif code != 0 and self.crash_loop.record_crash():
            self.final_codes.append(code)
            self.crash_looping = True
            logger.error(
                "crash loop: %s worker process crashes within %.0fs (the last: pid %s exited %s): "
                "stopping the pool instead of restarting; fix the cause logged above and start it again",
                self.crash_loop.recent_crashes,
                self.crash_loop.window_s,
                pid,
                code,
            )
            self._on_signal(signal.SIGTERM, None)
        else:
            if time.monotonic() - self.started_at.get(index, 0.0) >= _STABLE_S:
                self.backoff_s.pop(index, None)
            delay = 0.0 if code == 0 else self.backoff_s.get(index, 0.5)
            if code != 0:
                self.backoff_s[index] = min(delay * 2, _MAX_BACKOFF_S)
                logger.warning("worker process %s exited %s: restarting in %.1fs", pid, code, delay)
            self.restart_at[index] = time.monotonic() + delay

    def _exit_code(self) -> int:
        if self.signals_seen > 1:
            return 128 + int(self.last_signal)
        if EXIT_CONFIG in self.final_codes:
            return EXIT_CONFIG
        return 0 if all(code == 0 for code in self.final_codes) else 1
