"""A real HTTP server (stdlib http.server) in a thread on a free loopback port."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorded:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return None

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append(
            Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        path = self.path.split("?", 1)[0]
        if path.startswith("/slow"):
            time.sleep(1.5)
        if path.startswith("/garbage"):
            self.wfile.write(b"this is not http\r\n\r\n")
            return
        status = int(path.rsplit("/", 1)[-1]) if path.startswith("/status/") else 202
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "7")
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        reply = json.dumps({"ok": status < 300}).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[Recorded]


@contextmanager
def http_server() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def base_url(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"
