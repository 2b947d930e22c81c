"""A local HTTP endpoint that answers a script of statuses, and a push worker in a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django_onestep import OneStepApp
from django_onestep.project.defaults import apply_django_defaults
from django_onestep.pushes.push_task import PUSH_TASK, install_push_task


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Endpoint:
    """``statuses`` answered in order (the last one repeats); ``sleep_s`` before each answer."""

    def __init__(self, statuses: list[int] | None = None, *, sleep_s: float = 0.0) -> None:
        self.statuses = list(statuses or [200])
        self.sleep_s = sleep_s
        self.received: list[Received] = []
        self.released = threading.Event()  # set at close: a sleeping answer ends at once
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with endpoint._lock:
                    endpoint.received.append(
                        Received(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()
                        )
                    )
                    index = len(endpoint.received) - 1
                    status = endpoint.statuses[min(index, len(endpoint.statuses) - 1)]
                    endpoint.in_flight += 1
                    endpoint.max_in_flight = max(endpoint.max_in_flight, endpoint.in_flight)
                if endpoint.sleep_s:
                    endpoint.released.wait(endpoint.sleep_s)
                with endpoint._lock:
                    endpoint.in_flight -= 1
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/redirected")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Endpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def push_app() -> OneStepApp:
    app = apply_django_defaults(OneStepApp("push-tests"))
    install_push_task(app)
    return app


@contextmanager
def serving(app: OneStepApp | None = None) -> Iterator[OneStepApp]:
    """Serve the push task in a thread until the block ends (a real runtime, real queue)."""
    app = app or push_app()
    errors: list[BaseException] = []

    def run() -> None:
        from django.db import connections

        try:
            asyncio.run(app.serve(tasks=[PUSH_TASK]))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        app.request_shutdown()
        thread.join(30)
        assert not thread.is_alive(), "the push worker did not stop"
        assert not errors, errors
