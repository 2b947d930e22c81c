"""The supervisor's probes under ``--processes N --healthcheck-port P``.

One port for the whole pool (a container has one probe address): the supervisor serves
``P`` from a thread, each child its own ``/readyz`` on ``P + 1 + i``.

- ``GET /healthz``: 200 while the supervisor's loop runs (it ticks every fraction of a
  second; a loop stuck for ``_STUCK_S`` answers 503).
- ``GET /readyz``: 200 when the pool is complete (N children alive, not stopping, no
  crash loop) and every child's own ``/readyz`` answers 200; else 503 with the reasons.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["PoolHealthServer"]

_STUCK_S = 10.0
_CHILD_TIMEOUT_S = 1.5


def child_readiness(host: str, port: int) -> tuple[bool, Any]:
    address = "127.0.0.1" if host in ("0.0.0.0", "") else host
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/readyz", timeout=_CHILD_TIMEOUT_S) as response:
            return True, json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 503: the child said why
        try:
            return False, json.loads(exc.read())
        except ValueError:
            return False, {"error": f"HTTP {exc.code}"}
    except (OSError, ValueError) as exc:
        return False, {"error": f"{type(exc).__name__}: {exc}"}


class PoolHealthServer:
    """``pool_status()`` returns the supervisor's view: ``{"size", "alive", "pids",
    "stopping", "crash_loop", "recent_crashes", "child_ports"}``."""

    def __init__(self, pool_status: Callable[[], dict[str, Any]], port: int, host: str) -> None:
        self.pool_status = pool_status
        self.host = host
        self.last_tick = time.monotonic()
        server = self
        self._httpd = ThreadingHTTPServer((host, port), _handler(server))
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="pool-health", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def tick(self) -> None:
        self.last_tick = time.monotonic()

    def liveness(self) -> tuple[int, dict[str, Any]]:
        stuck_s = time.monotonic() - self.last_tick
        alive = stuck_s < _STUCK_S
        return (200 if alive else 503), {
            "status": "alive" if alive else "stuck",
            "loop_age_s": round(stuck_s, 3),
        }

    def readiness(self) -> tuple[int, dict[str, Any]]:
        pool = self.pool_status()
        problems = []
        if pool["stopping"]:
            problems.append("stopping")
        if pool["crash_loop"]:
            problems.append("crash loop")
        if pool["alive"] < pool["size"]:
            problems.append(f"{pool['alive']} of {pool['size']} worker processes alive")
        children = {}
        ports = pool["child_ports"]
        # all at once: one hung child must not make the probe N timeouts long
        with ThreadPoolExecutor(max(1, len(ports)), thread_name_prefix="pool-health-child") as executor:
            answers = list(executor.map(lambda port: child_readiness(self.host, port), ports))
        for port, (ok, body) in zip(ports, answers, strict=True):
            children[str(port)] = body
            if not ok:
                problems.append(f"worker process on port {port} not ready")
        body = {
            "status": "not_ready" if problems else "ready",
            "problems": problems,
            "checks": {"pool": pool, "processes": children},
        }
        return (503 if problems else 200), body


def _handler(server: PoolHealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/healthz":
                code, body = server.liveness()
            elif path == "/readyz":
                code, body = server.readiness()
            else:
                code, body = 404, {"status": "not_found"}
            payload = json.dumps(body, default=str).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a probe every few seconds would drown the worker's own log

    return Handler
