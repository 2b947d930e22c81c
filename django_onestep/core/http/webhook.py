"""WebhookSource: HTTP requests pushed into a task (onestep 1.x standalone listener).

Accepted requests wait in an in-memory buffer of ``queue_maxsize`` events until the
task fetches them; when it is full new requests get 503 (with ``Retry-After``) so
the sender retries instead of the event being silently dropped. The buffer lives in
the worker process: an event accepted and not yet handled is lost if the process dies.
Use the Django-served webhook (durable inbox) when that matters: there the Django
layer sets ``inbox`` to a database queue, Django's view writes accepted requests to it
and this source only reads it (no listener, no buffer).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Delivery, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.http.webhook_listener import WebhookListener, acquire_listener, release_listener
from django_onestep.core.http.webhook_protocol import (
    PARSERS,
    BearerAuth,
    WebhookAuth,
    WebhookHTTPError,
    WebhookResponse,
    build_event,
    normalize_path,
)
from django_onestep.core.validation import int_between, non_negative_number, positive_int, positive_number

if TYPE_CHECKING:
    from django_onestep.core.http.webhook_listener import ParsedRequest

__all__ = ["BearerAuth", "WebhookDelivery", "WebhookResponse", "WebhookSource"]

#: A header name, or a function of the event, giving the sender's id of a delivery.
DeliveryId = str | Callable[[Mapping[str, Any]], Any]

_HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class WebhookDelivery(Delivery):
    """An accepted request. Ack/fail forget it; retry puts it back (after ``delay_s``)."""

    def __init__(self, source: WebhookSource, envelope: Envelope) -> None:
        super().__init__(envelope)
        self._source = source

    async def ack(self) -> None:
        return None

    async def fail(self, exc: Exception | None = None) -> None:
        return None

    async def retry(self, *, delay_s: float | None = None) -> None:
        again = Envelope(self.envelope.body, dict(self.envelope.meta), self.envelope.attempts + 1)
        self._source._requeue(again, delay_s or 0.0)


class WebhookSource(Source):
    """Serve ``path`` on ``host:port`` and deliver each accepted request to the task."""

    def __init__(
        self,
        *,
        path: str,
        methods: Sequence[str] = ("POST",),
        host: str = "127.0.0.1",
        port: int = 8080,
        parser: str = "auto",
        auth: WebhookAuth | None = None,
        response: WebhookResponse | None = None,
        max_body_bytes: int = 1024 * 1024,
        read_timeout_s: float = 5.0,
        queue_maxsize: int = 1000,
        batch_size: int = 100,
        poll_interval_s: float = 0.1,
        max_header_bytes: int = 64 * 1024,
        max_connections: int = 512,
        name: str | None = None,
        delivery_id: DeliveryId | None = None,
    ) -> None:
        normalized = normalize_path(path)
        if parser not in PARSERS:
            raise ConfigurationError(f"parser must be one of {', '.join(PARSERS)}; got {parser!r}")
        if isinstance(methods, str | bytes) or not isinstance(methods, Iterable) or not methods:
            raise ConfigurationError(f"methods must be a non-empty list of HTTP methods; got {methods!r}")
        if not isinstance(host, str) or not host.strip():
            raise ConfigurationError(f"host must be a non-empty string; got {host!r}")
        upper = tuple(dict.fromkeys(str(method).strip().upper() for method in methods))
        unknown = [method for method in upper if method not in _HTTP_METHODS]
        if unknown:
            raise ConfigurationError(f"methods contains unknown HTTP method(s) {unknown!r}")
        int_between("port", port, 0, 65535)
        if auth is not None and not callable(getattr(auth, "authorize", None)):
            raise ConfigurationError(f"auth must provide authorize(headers); got {auth!r}")
        non_negative_number("max_body_bytes", max_body_bytes)
        positive_number("read_timeout_s", read_timeout_s)
        for name_, value in (
            ("queue_maxsize", queue_maxsize),
            ("batch_size", batch_size),
            ("max_header_bytes", max_header_bytes),
            ("max_connections", max_connections),
        ):
            positive_int(name_, value)
        positive_number("poll_interval_s", poll_interval_s)
        if delivery_id is not None and not (
            (isinstance(delivery_id, str) and delivery_id.strip()) or callable(delivery_id)
        ):
            raise ConfigurationError(
                f"delivery_id must be a header name or a function of the event; got {delivery_id!r}"
            )
        super().__init__(name or f"webhook:{normalized}")
        self.path = normalized
        self.methods = upper
        self.host = host
        self.port = port
        self.parser = parser
        self.auth = auth
        self.delivery_id = delivery_id.strip().lower() if isinstance(delivery_id, str) else delivery_id
        #: Where accepted requests wait when another server receives them (the Django
        #: layer sets a database queue). None: this source's own listener and buffer.
        self.inbox: Source | None = None
        self.response = response or WebhookResponse()
        self.max_body_bytes = int(max_body_bytes)
        self.read_timeout_s = float(read_timeout_s)
        self.queue_maxsize = queue_maxsize
        self.batch_size = batch_size
        self.poll_interval_s = float(poll_interval_s)
        self.max_header_bytes = max_header_bytes
        self.max_connections = max_connections
        self._buffer: deque[Envelope] = deque()
        self._ready: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: WebhookListener | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with ``port=0``)."""
        return self._listener.bound_port if self._listener is not None else self.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.bound_port}{self.path}"

    @property
    def pending_count(self) -> int:
        return len(self._buffer)

    def delivery_key(self, event: Mapping[str, Any]) -> str | None:
        """The sender's id of this delivery (``delivery_id``), or None when it has none."""
        if self.delivery_id is None:
            return None
        if isinstance(self.delivery_id, str):
            value = event.get("headers", {}).get(self.delivery_id)
        else:
            try:
                value = self.delivery_id(event)
            except Exception:  # a body of another shape has no id: not an error of the sender
                return None
        if value is None or isinstance(value, bool) or not isinstance(value, str | int):
            return None
        text = str(value).strip()
        return text or None

    async def open(self) -> None:
        if self.inbox is not None:
            await self.inbox.open()
            self._set_open_state(True)
            return
        self._event()
        if self._listener is None:
            self._listener = await acquire_listener(self)
            self._set_open_state(True)

    async def close(self) -> None:
        if self.inbox is not None:
            await self.inbox.close()
            self._set_open_state(False)
            return
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await release_listener(self, listener)
        self._set_open_state(False)

    async def fetch(self, limit: int) -> list[Delivery]:
        if self.inbox is not None:
            return await self.inbox.fetch(limit)
        ready = self._event()
        if not self._buffer:
            ready.clear()
            try:
                await asyncio.wait_for(ready.wait(), timeout=self.poll_interval_s)
            except TimeoutError:
                return []
        count = max(1, min(limit, self.batch_size))
        deliveries: list[Delivery] = []
        while self._buffer and len(deliveries) < count:
            deliveries.append(WebhookDelivery(self, self._buffer.popleft()))
        return deliveries

    def accept(
        self, request: ParsedRequest, body: bytes, client: tuple[str, int] | None
    ) -> tuple[int, dict[str, str], bytes]:
        """Turn a read request into a buffered event and the response to send.

        Raises WebhookHTTPError 400 for a body the parser rejects, 503 when full.
        """
        if len(self._buffer) >= self.queue_maxsize:
            raise WebhookHTTPError(503, "queue_full", headers={"Retry-After": "1"})
        event = build_event(
            method=request.method,
            target=request.target,
            headers=request.headers,
            body=body,
            parser=self.parser,
            client=client,
        )
        self._push(Envelope(body=event, meta={"source": self.name}))
        return self.response.render()

    # -- internals ----------------------------------------------------------------------
    def _event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._ready is None or self._loop is not loop:
            self._ready = asyncio.Event()
            self._loop = loop
        return self._ready

    def _push(self, envelope: Envelope) -> None:
        self._buffer.append(envelope)
        self._event().set()

    def _requeue(self, envelope: Envelope, delay_s: float) -> None:
        # Retries bypass the capacity check (the request was already answered 2xx,
        # so it must not be dropped) and wait on a timer, not in a task slot.
        if delay_s <= 0:
            self._push(envelope)
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            self._push(envelope)

        handle = loop.call_later(delay_s, fire)
        self._timers.add(handle)
