"""The standalone webhook listener: one asyncio server per ``host:port``, many routes.

One request per connection (``Connection: close``). Every read has a deadline, the
header block and the body have size limits that are enforced while streaming (a
lying or absent Content-Length cannot make it buffer more), and every answer is a
well-formed HTTP response: 400 malformed, 401 auth, 404/405 routing, 408 slow, 413
too large, 431 header block too large, 501 unsupported transfer coding, 503 buffer
full. Request parsing lives in :mod:`webhook_protocol` so the Django view shares it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.http.webhook_protocol import (
    STATUS_TEXT,
    WebhookHTTPError,
    normalize_path,
    render_body,
    verify_body,
)

if TYPE_CHECKING:
    from django_onestep.core.http.webhook import WebhookSource

__all__ = ["WebhookListener", "acquire_listener", "release_listener"]

logger = logging.getLogger("onestep.webhook")

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(rb"^HTTP/1\.[01]$")
_LINGER_BYTES = 1 << 20  # after an early error, discard at most this much request data
_LINGER_S = 1.0


@dataclass
class ParsedRequest:
    method: str
    target: str
    path: str
    headers: dict[str, str]


class WebhookListener:
    """An asyncio server shared by every WebhookSource bound to the same host:port."""

    def __init__(self, host: str, port: int, *, max_header_bytes: int, max_connections: int) -> None:
        self.host = host
        self.requested_port = port
        self.max_header_bytes = max_header_bytes
        self.max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._routes: dict[tuple[str, str], WebhookSource] = {}
        self._connections = 0

    @property
    def bound_port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self.requested_port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def is_unused(self) -> bool:
        return not self._routes

    async def register(self, source: WebhookSource) -> None:
        for method in source.methods:
            owner = self._routes.get((source.path, method))
            if owner is not None and owner is not source:
                raise ConfigurationError(
                    f"duplicate webhook route {method} {source.path} on {self.host}:{self.requested_port}"
                )
        if self._server is None:
            self._server = await asyncio.start_server(
                self._handle, self.host, self.requested_port, limit=self.max_header_bytes
            )
        for method in source.methods:
            self._routes[(source.path, method)] = source

    async def unregister(self, source: WebhookSource) -> None:
        for key in [key for key, owner in self._routes.items() if owner is source]:
            del self._routes[key]
        if not self._routes and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def allowed_methods(self, path: str) -> list[str]:
        return sorted(method for route_path, method in self._routes if route_path == path)

    # -- one connection ----------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        consumed = False
        try:
            if self._connections > self.max_connections:
                raise WebhookHTTPError(503, "too_many_connections", headers={"Retry-After": "1"})
            consumed = await self._serve_one(reader, writer)
        except WebhookHTTPError as exc:
            await _write(writer, exc.status, exc.body, exc.headers)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; nothing to answer
        except Exception:  # a bug must not kill the listener; input errors never get here
            logger.exception("webhook listener failed while handling a request")
            await _write(writer, 500, {"error": "internal_error"}, {})
        finally:
            self._connections -= 1
            await _close(reader, writer, linger=not consumed)

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        request = await self._read_head(reader)
        source = self._routes.get((request.path, request.method))
        if source is None:
            allowed = self.allowed_methods(request.path)
            if not allowed:
                raise WebhookHTTPError(404, "not_found")
            raise WebhookHTTPError(405, "method_not_allowed", headers={"Allow": ", ".join(allowed)})
        if source.auth is not None:
            source.auth.authorize(request.headers)
        body = await _read_body(reader, writer, request.headers, source)
        if source.auth is not None:
            verify_body(source.auth, request.headers, body)
        status, headers, payload = source.accept(request, body, _peer(writer))
        await _write_raw(writer, status, headers, payload)
        return True

    async def _read_head(self, reader: asyncio.StreamReader) -> ParsedRequest:
        source_timeout_s = max((s.read_timeout_s for s in self._routes.values()), default=5.0)
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=source_timeout_s)
        except TimeoutError:
            raise WebhookHTTPError(408, "request_timeout") from None
        except asyncio.LimitOverrunError:
            raise WebhookHTTPError(431, "headers_too_large") from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise  # connected and closed without a byte: nothing to answer
            raise WebhookHTTPError(400, "incomplete_request") from None
        return parse_head(raw)


def parse_head(raw: bytes) -> ParsedRequest:
    """Parse the request line and headers (CRLF-terminated block) or raise 400."""
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not _VERSION.match(parts[2]):
        raise WebhookHTTPError(400, "invalid_request_line")
    method, target_bytes = parts[0].decode("ascii").upper(), parts[1]
    if not target_bytes.startswith(b"/") or any(byte < 0x21 or byte == 0x7F for byte in target_bytes):
        raise WebhookHTTPError(400, "invalid_request_target")
    target = target_bytes.decode("latin-1")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name) or any(b in value for b in (0, 0x0D, 0x0A)):
            raise WebhookHTTPError(400, "invalid_header")
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if key in headers:
            if key in ("content-length", "host", "authorization", "transfer-encoding"):
                if headers[key] != text:
                    raise WebhookHTTPError(400, "conflicting_header")
                continue
            headers[key] = f"{headers[key]}, {text}"
        else:
            headers[key] = text
    path_text = target.split("?", 1)[0]
    return ParsedRequest(method, target, normalize_path(path_text or "/"), headers)


async def _read_body(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    headers: Mapping[str, str],
    source: WebhookSource,
) -> bytes:
    limit = source.max_body_bytes
    encoding = headers.get("transfer-encoding")
    length_text = headers.get("content-length")
    if encoding is not None and length_text is not None:
        raise WebhookHTTPError(400, "conflicting_length")  # request-smuggling shape
    if encoding is not None and encoding.strip().lower() != "chunked":
        raise WebhookHTTPError(501, "unsupported_transfer_encoding")
    length = 0
    if length_text is not None:
        if not length_text.isdigit():
            raise WebhookHTTPError(400, "invalid_content_length")
        length = int(length_text)
        if length > limit:
            raise WebhookHTTPError(413, "payload_too_large")
    if headers.get("expect", "").lower() == "100-continue" and (length or encoding):
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    try:
        if encoding is not None:
            return await asyncio.wait_for(_read_chunked(reader, limit), timeout=source.read_timeout_s)
        if length == 0:
            return b""
        return await asyncio.wait_for(reader.readexactly(length), timeout=source.read_timeout_s)
    except TimeoutError:
        raise WebhookHTTPError(408, "request_timeout") from None
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        raise WebhookHTTPError(400, "incomplete_body") from None


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size_text = size_line[:-2].split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
            raise WebhookHTTPError(400, "invalid_chunk")
        size = int(size_text, 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers are read and ignored
            return bytes(body)
        if len(body) + size > limit:
            raise WebhookHTTPError(413, "payload_too_large")
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise WebhookHTTPError(400, "invalid_chunk")


def _peer(writer: asyncio.StreamWriter) -> tuple[str, int] | None:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(peer[0]), int(peer[1])
    return None


async def _write(writer: asyncio.StreamWriter, status: int, body: Any, headers: Mapping[str, str]) -> None:
    payload, content_type = render_body(body)
    merged = dict(headers)
    if content_type:
        merged.setdefault("Content-Type", content_type)
    await _write_raw(writer, status, merged, payload)


async def _write_raw(
    writer: asyncio.StreamWriter, status: int, headers: Mapping[str, str], payload: bytes
) -> None:
    lines = [f"HTTP/1.1 {status} {STATUS_TEXT.get(status, 'Unknown')}"]
    lines += [f"{key}: {value}" for key, value in headers.items() if key.lower() != "content-length"]
    lines += [f"Content-Length: {len(payload)}", "Connection: close", "", ""]
    with contextlib.suppress(ConnectionError):
        writer.write("\r\n".join(lines).encode("latin-1") + payload)
        await writer.drain()


async def _close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, linger: bool) -> None:
    # Closing with unread request bytes makes the kernel send RST, which can destroy
    # the error response before the client reads it; so half-close and drain briefly.
    with contextlib.suppress(Exception):
        if linger and writer.can_write_eof():
            writer.write_eof()
            remaining = _LINGER_BYTES
            async with asyncio.timeout(_LINGER_S):
                while remaining > 0:
                    chunk = await reader.read(min(65536, remaining))
                    if not chunk:
                        break
                    remaining -= len(chunk)
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


# -- one listener per (event loop, host, port) ---------------------------------------
_REGISTRY: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, int], WebhookListener]] = (
    weakref.WeakKeyDictionary()
)
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    return lock


async def acquire_listener(source: WebhookSource) -> WebhookListener:
    async with _lock():
        listeners = _REGISTRY.setdefault(asyncio.get_running_loop(), {})
        key = (source.host, source.port)
        listener = listeners.get(key)
        if listener is None:
            listener = WebhookListener(
                source.host,
                source.port,
                max_header_bytes=source.max_header_bytes,
                max_connections=source.max_connections,
            )
        await listener.register(source)
        listeners[key] = listener
        return listener


async def release_listener(source: WebhookSource, listener: WebhookListener) -> None:
    async with _lock():
        await listener.unregister(source)
        if listener.is_unused:
            listeners = _REGISTRY.get(asyncio.get_running_loop(), {})
            if listeners.get((listener.host, listener.requested_port)) is listener:
                del listeners[(listener.host, listener.requested_port)]
