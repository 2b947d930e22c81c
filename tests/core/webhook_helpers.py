"""Raw-socket HTTP client for webhook listener tests (no HTTP library in between)."""

from __future__ import annotations

import asyncio
import json
from typing import Any


class RawResponse:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split(" ")[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}

    def json(self) -> Any:
        return json.loads(self.body)


async def send_raw(
    port: int,
    data: bytes,
    *,
    chunks: list[bytes] | None = None,
    pause_s: float = 0.0,
    half_close: bool = False,
    timeout_s: float = 20.0,
) -> RawResponse:
    """Send ``data`` (then ``chunks`` with pauses), read the whole response until EOF.

    Reading runs concurrently with writing, so a response sent while the client is
    still writing (408, 413) is captured before any connection reset.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = bytearray()

    async def read_all() -> None:
        try:
            while chunk := await reader.read(65536):
                received.extend(chunk)
        except ConnectionError:
            pass

    reading = asyncio.create_task(read_all())
    try:
        try:
            writer.write(data)
            await writer.drain()
            for chunk in chunks or []:
                await asyncio.sleep(pause_s)
                if reading.done():
                    break
                writer.write(chunk)
                await writer.drain()
            if half_close:
                writer.write_eof()
        except ConnectionError:
            pass
        await asyncio.wait_for(reading, timeout=timeout_s)
    finally:
        writer.close()
    raw = bytes(received)
    # a 100 Continue interim response may precede the final one
    while raw.startswith(b"HTTP/1.1 100 "):
        raw = raw.split(b"\r\n\r\n", 1)[1]
    return RawResponse(raw)


def request(
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    content_length: bool = True,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test"]
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if content_length and body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
