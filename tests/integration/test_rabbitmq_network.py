"""RabbitMQ through a loopback TCP proxy that cuts or stalls the connection.

A broker restart closes sockets cleanly; a network failure may not. These tests show the
queue recovers from an abrupt cut (RST) and from a silent stall (no FIN, no RST: only
AMQP heartbeats notice), and that nothing is lost either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from urllib.parse import urlsplit

import pytest

from django_onestep.connectors.rabbitmq import RabbitMQConnector, RabbitMQQueue
from django_onestep.core.errors import ConnectorOperationError
from tests.needs import require_module

pika = require_module("pika")


class Proxy:
    """Forwards 127.0.0.1:<port> to the broker; ``cut()`` resets, ``stall()`` goes silent."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.links.append((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def cut(self) -> None:
        for client, upstream in self.links:
            for w in (client, upstream):
                w.transport.abort()  # RST, like a dropped NAT entry or a crashed peer
        self.links.clear()

    def stall(self) -> list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]]:
        """Stop forwarding on the current connections (no FIN, no RST); new ones get through."""
        stalled, self.links = self.links, []
        for client, upstream in stalled:
            client.transport.pause_reading()
            upstream.transport.pause_reading()
        return stalled

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def via(url: str, port: int) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{port}").geturl()


def publish_ids(url: str, queue: str, ids: range) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.queue_declare(queue, durable=True)
        for i in ids:
            ch.basic_publish("", queue, f'{{"id": {i}}}'.encode(), pika.BasicProperties(delivery_mode=2))
    finally:
        conn.close()


def count_and_delete(url: str, queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        count = int(ch.queue_declare(queue, passive=True).method.message_count)
        ch.queue_delete(queue)
        return count
    finally:
        conn.close()


async def consume(queue: RabbitMQQueue, ids: set[int], total: int, timeout_s: float) -> int:
    """Ack messages until every id was seen; return how many fetches failed meanwhile."""
    failures = 0
    deadline = time.monotonic() + timeout_s
    while len(ids) < total:
        assert time.monotonic() < deadline, f"only {len(ids)} of {total} after {timeout_s}s"
        try:
            deliveries = await queue.fetch(50)
        except ConnectorOperationError as exc:
            assert exc.retryable, exc
            failures += 1
            await asyncio.sleep(exc.retry_delay_s or 0.1)
            continue
        for d in deliveries:
            ids.add(d.payload["id"])
            await d.ack()
    return failures


async def test_cut_connection_reconnects_and_loses_nothing(amqp_url: str) -> None:
    name = f"cut-{uuid.uuid4().hex[:8]}"
    parts = urlsplit(amqp_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    publish_ids(amqp_url, name, range(200))
    queue = RabbitMQConnector(via(amqp_url, proxy.port)).queue(name, prefetch=20, poll_interval_s=0.1)
    ids: set[int] = set()
    try:
        await consume(queue, ids, 50, 30)
        proxy.cut()  # mid-run, with up to 20 messages prefetched and unacked
        await consume(queue, ids, 200, 60)
        assert queue.session.connections_opened == 2
    finally:
        await queue.close()
        await proxy.close()
    assert ids == set(range(200))
    assert count_and_delete(amqp_url, name) == 0


@pytest.mark.slow
async def test_silent_stall_is_detected_by_heartbeats_and_recovered(amqp_url: str) -> None:
    name = f"stall-{uuid.uuid4().hex[:8]}"
    parts = urlsplit(amqp_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    publish_ids(amqp_url, name, range(100))
    connector = RabbitMQConnector(via(amqp_url, proxy.port), options={"heartbeat": 2})
    queue = connector.queue(name, prefetch=10, poll_interval_s=0.1)
    ids: set[int] = set()
    stalled: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
    try:
        await consume(queue, ids, 30, 30)
        stalled = proxy.stall()
        started = time.monotonic()
        await consume(queue, ids, 100, 90)
        assert queue.session.connections_opened == 2
        assert time.monotonic() - started < 60  # heartbeats noticed it, not a 2-hour TCP timeout
    finally:
        await queue.close()
        await proxy.close()
        for client, upstream in stalled:
            client.transport.abort()
            upstream.transport.abort()
    assert ids == set(range(100))
    assert count_and_delete(amqp_url, name) == 0
