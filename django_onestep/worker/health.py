"""``--healthcheck-port P``: ``GET /`` answers 200 ``{"status": "ok", ...}`` while the
worker serves and 503 ``{"status": "stopping", ...}`` once it is shutting down.

It binds every interface (container probes come from outside the process); it reveals
only the app name, task names, pid and in-flight counts.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

__all__ = ["HealthServer"]

_READ_TIMEOUT_S = 5.0


class HealthServer:
    def __init__(self, worker: Any, port: int, host: str = "0.0.0.0") -> None:
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

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT_S)
            parts = request_line.decode("latin-1").split()
            if len(parts) >= 2 and parts[0] == "GET" and parts[1] in ("/", "/health"):
                code, body = self.status()
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
