"""Real web servers for the webhook site, and a raw-socket client with hostile requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.acceptance.conftest import ROOT
from tests.acceptance.webhookapp.settings_values import GITHUB_SECRET, LIMIT, STRIPE_SECRET, TOKEN

SERVERS = ("gunicorn", "uvicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(server: str, port: int) -> list[str]:
    if server == "gunicorn":  # 2 sync workers: the usual WSGI deployment
        return [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "10",
                "--no-control-socket", "tests.acceptance.webhook_site:wsgi"]  # fmt: skip
    return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "tests.acceptance.webhook_site:asgi"]  # fmt: skip


class WebServer:
    """gunicorn or uvicorn serving the webhook site on a loopback port."""

    def __init__(self, server: str, env: Mapping[str, str], log_path: Path) -> None:
        self.port = free_port()
        self._log = log_path.open("wb")
        self.log_path = log_path
        self.popen = subprocess.Popen(
            server_command(server, self.port),
            cwd=ROOT,
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"{server} exited: {self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"{server} did not listen within 30 s: {self.output()}")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()  # SIGKILL: no graceful anything
        self.popen.wait()
        self._log.close()


def raw_request(method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    merged = {"Content-Length": str(len(body)), **(headers or {})}
    lines += [f"{name}: {value}" for name, value in merged.items() if value is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def send(port: int, data: bytes, *, half_close: bool = False, timeout_s: float = 10.0) -> int | None:
    """Send ``data``, return the status (None: no HTTP answer, e.g. a reset).

    ``half_close`` shuts the sending side, so a lying Content-Length meets EOF at once
    instead of a server's read timeout (uvicorn takes it as the client leaving).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        except OSError:
            return None
    head = received.split(b"\r\n", 1)[0].split(b" ")
    return int(head[1]) if len(head) >= 2 and head[0].startswith(b"HTTP/") and head[1].isdigit() else None


def github_headers(body: bytes, delivery: str) -> dict[str, str]:
    digest = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
    }


def github(port: int, body: bytes, delivery: str) -> int | None:
    return send(port, raw_request("POST", "/onestep/hooks/github", body, github_headers(body, delivery)))


def stripe_headers(body: bytes, timestamp: int) -> dict[str, str]:
    digest = hmac.new(STRIPE_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "Stripe-Signature": f"t={timestamp},v1={digest}"}


def hostile_requests(count: int, seed: int = 9) -> Iterator[tuple[bytes, bool]]:
    """``count`` malformed or hostile requests (and whether to half-close after each);
    none may be stored or answered 5xx."""
    rng = random.Random(seed)
    token = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    nested = b"[" * 5000 + b"]" * 5000
    makers = [
        lambda: raw_request("POST", "/onestep/hooks/token", b"{not json", token),
        lambda: raw_request("POST", "/onestep/hooks/token", b"[" * 65 + b"]" * 65, token),
        lambda: raw_request("POST", "/onestep/hooks/token", nested[:LIMIT], token),
        lambda: raw_request("POST", "/onestep/hooks/token", b'{"a": NaN}', token),
        lambda: raw_request("POST", "/onestep/hooks/token", b'"\xff\xfe"', token),
        lambda: raw_request("POST", "/onestep/hooks/token", b"x" * (LIMIT + 1), token),
        lambda: raw_request("POST", "/onestep/hooks/token", b"{}", {**token, "Content-Length": "999999999"}),
        lambda: raw_request("POST", "/onestep/hooks/token", b"{}", {**token, "Content-Length": "50"}),
        lambda: raw_request("POST", "/onestep/hooks/token", b"{}", {**token, "Content-Length": "-1"}),
        lambda: raw_request(
            "POST",
            "/onestep/hooks/token",
            (f"{LIMIT:x}\r\n".encode() + b"x" * LIMIT + b"\r\n") * 2 + b"0\r\n\r\n",
            {**token, "Content-Length": None, "Transfer-Encoding": "chunked"},  # type: ignore[dict-item]
        ),
        lambda: raw_request(
            rng.choice(["GET", "PUT", "DELETE", "PATCH"]), "/onestep/hooks/token", b"", token
        ),
        lambda: raw_request("POST", "/onestep/hooks/token", b"{}", {"Authorization": "Bearer wrong"}),
        lambda: raw_request("POST", "/onestep/hooks/token", b"{}", {"Authorization": "Bearer t\xf6ken"}),
        lambda: raw_request("POST", "/onestep/hooks/github", b"{}", {"X-Hub-Signature-256": "sha256=00"}),
        lambda: raw_request("POST", "/onestep/hooks/github", b"{}", github_headers(b"{ }", "forged")),
        lambda: raw_request(
            "POST", "/onestep/hooks/stripe", b"{}", stripe_headers(b"{}", int(time.time()) - 3600)
        ),
        lambda: raw_request(
            "POST", "/onestep/hooks/token", rng.randbytes(200), {**token, "Content-Type": "x/y"}
        ),
        lambda: rng.randbytes(rng.randint(1, 400)),  # not HTTP at all
        lambda: raw_request("POST", "/onestep/hooks/%ff%00", b"{}", token),
        lambda: raw_request("POST", "/onestep/hooks/token?" + "a=%ff&" * 50, b"{", token),
        lambda: raw_request("POST", "/onestep/hooks/token", b'{"a": "\\ud800"}', token),  # lone surrogate
    ]
    # a Content-Length that promises more than is sent, and junk without a line end:
    # without EOF the server would wait for the rest until its timeout
    half_close = {6, 7, 17}
    for index in range(count):
        yield makers[index % len(makers)](), index % len(makers) in half_close


def json_body(value: object) -> bytes:
    return json.dumps(value).encode()
