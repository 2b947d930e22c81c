"""``--healthcheck-port P``: the worker's probes, JSON bodies.

- ``GET /healthz`` (liveness): 200 while the event loop answers, draining included (a
  worker finishing its work must not be killed for it).
- ``GET /readyz`` (readiness): 200 when every check of ``readiness.py`` passes, else
  503 with the failing ones.
- ``GET /`` and ``/health``: 200 ``{"status": "ok", ...}`` while serving, 503
  ``{"status": "stopping", ...}`` once shutting down (the first probe of this port).

It binds ``--healthcheck-host`` (127.0.0.1 unless told otherwise) and reveals only the
app name, task names, pid, in-flight counts and which checks fail.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from django_onestep.worker import readiness

__all__ = ["HealthServer"]

_READ_TIMEOUT_S = 5.0


class HealthServer:
    def __init__(self, worker: Any, port: int, host: str = "127.0.0.1") -> None:
        self.worker = worker
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def status(self) -> tuple[int, dict[str, Any]]:
        app = self.worker.app
        runtime: dict[str, Any] = {}
        runtime_status = getattr(app, "runtime_status", None)
        if callable(runtime_status):
            try:
                runtime = runtime_status()
            except Exception as exc:  # a broken status must not break the probe
                runtime = {"error": f"{type(exc).__name__}: {exc}"}
        stopping = self.worker.stopping
        body = {
            "status": "stopping" if stopping else "ok",
            "app": app.name,
            "pid": os.getpid(),
            "tasks": self.worker.task_names,
            "runtime": runtime,
        }
        return (503 if stopping else 200), body

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        ready, checks = await readiness.evaluate(self.worker)
        body = {"status": "ready" if ready else "not_ready", "pid": os.getpid(), "checks": checks}
        return (200 if ready else 503), body

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT_S)
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 and parts[0] == "GET" else None
            if path in ("/", "/health"):
                code, body = self.status()
            elif path == "/healthz":
                code, body = 200, {"status": "alive", "app": self.worker.app.name, "pid": os.getpid()}
            elif path == "/readyz":
                code, body = await self.readiness()
            else:
                code, body = 404, {"status": "not_found"}
            payload = json.dumps(body, default=str).encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            writer.write(
                f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
