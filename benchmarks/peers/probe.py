"""What every peer's no-op task calls: stdlib only, so each peer's venv can import it.

Drain mode appends one byte per task to ``count`` (``O_APPEND`` is atomic across the
worker processes of peers that fork) and the task that writes byte 1 (N) writes the time in ``first`` (``done``).
A payload with ``t`` (its enqueue time) appends one line ``<phase> <latency ms>`` to
``latency`` instead. The harness reads those files; it never asks the peer.
"""

from __future__ import annotations

import os
import time
from typing import Any

_fds: dict[str, int] = {}


def _fd(name: str) -> int:
    fd = _fds.get(name)
    if fd is None:
        path = os.path.join(os.environ["PEER_PROBE_DIR"], name)
        fd = _fds[name] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    return fd


def record(payload: Any) -> None:
    now = time.time()
    if isinstance(payload, dict) and "t" in payload:
        os.write(_fd("latency"), f"{payload.get('p', 'x')} {(now - payload['t']) * 1000:.3f}\n".encode())
        return
    fd = _fd("count")
    os.write(fd, b".")
    written = os.lseek(fd, 0, os.SEEK_CUR)
    if written == 1:
        _mark("first", now)
    if written == int(os.environ["PEER_EXPECT"]):
        _mark("done", now)


def _mark(name: str, at: float) -> None:
    path = os.path.join(os.environ["PEER_PROBE_DIR"], name)
    with open(path + ".tmp", "w") as f:
        f.write(repr(at))
    os.replace(path + ".tmp", path)
