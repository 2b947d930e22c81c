"""One SQS queue as a Source and a Sink: receives, leases, sends (``SQSConnector.queue()``).

Receives long-poll, topped up by parallel receives when the worker has free slots;
each fetched message is tracked by the LeaseKeeper (heartbeat, batched deletes) until
its delivery settles. Sends carry onestep's envelope and, on FIFO queues, the group
and deduplication ids.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.broker_send import SyncSend, remember_queue
from django_onestep.connectors.codec import encode_envelope, plain_envelopes
from django_onestep.connectors.sqs.classify import error_code, to_connector_error
from django_onestep.connectors.sqs.delivery import SQSDelivery
from django_onestep.connectors.sqs.leases import LeaseKeeper
from django_onestep.connectors.sqs.sqs_publish import SqsPublish
from django_onestep.core.base import Delivery, Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import (
    ConfigurationError,
    ConnectorOperation,
    ConnectorOperationError,
    MissingExtraError,
)

if TYPE_CHECKING:
    from django_onestep.connectors.sqs.connector import SQSConnector

__all__ = ["GroupId", "SQSQueue"]

logger = logging.getLogger("django_onestep.connectors.sqs.connector")

GroupId = str | Callable[[Envelope], str]
_SQS_DEFAULT_VISIBILITY_S = 30
_FETCH_BACKOFF_CAP_S = 30.0


class SQSQueue(SqsPublish, SyncSend, Source, Sink):  # type: ignore[misc]  # send: see SyncSend
    """An existing SQS queue (standard or ``.fifo``) to consume and send to."""

    # A receive in flight cannot be taken back: the runner waits for it and then
    # releases what it got (release_unstarted makes them visible again at once).
    fetch_is_cancel_safe = False

    def __init__(self, connector: SQSConnector, url: str, **settings: Any) -> None:
        Source.__init__(self, url)
        Sink.__init__(self, url)
        self.connector = connector
        self.url = url
        self.fifo = url.endswith(".fifo")
        self.wait_time_s: int = settings["wait_time_s"]
        self.visibility_timeout: int | None = settings["visibility_timeout"]
        self.batch_size = settings["batch_size"]
        self.receive_batches: int = settings["receive_batches"]
        self.poll_interval_s = settings["poll_interval_s"]
        self.message_group_id: GroupId | None = settings["message_group_id"]
        self.message_group_field: str | None = settings["message_group_field"]
        self.deduplication_id_factory: Callable[[Envelope], str] | None = settings["deduplication_id_factory"]
        self.on_fail: str = settings["on_fail"]
        self.delete_batch_size: int = settings["delete_batch_size"]
        self.delete_flush_interval_s: float = settings["delete_flush_interval_s"]
        self.heartbeat_interval_s: float | None = settings["heartbeat_interval_s"]
        self.heartbeat_visibility_timeout: int | None = settings["heartbeat_visibility_timeout"]
        self._fetch_failures = 0
        self._leases: LeaseKeeper | None = None
        self._leases_loop: asyncio.AbstractEventLoop | None = None
        remember_queue(self)

    def __repr__(self) -> str:
        return f"SQSQueue({self.url!r})"

    def _error(self, exc: BaseException, op: ConnectorOperation) -> Exception:
        delay_s = max(self.poll_interval_s, 1.0)
        if op in (ConnectorOperation.FETCH, ConnectorOperation.OPEN):
            # Consecutive failed receives (or the opens fetch retries) back off
            # exponentially, 1 s doubling to 30 s.
            self._fetch_failures += 1
            delay_s = min(_FETCH_BACKOFF_CAP_S, delay_s * 2 ** (self._fetch_failures - 1))
        return to_connector_error(
            exc, operation=op, source_name=self.name, tokens=self.connector.tokens, retry_delay_s=delay_s
        )

    async def _call(self, op: ConnectorOperation, method: str, **params: Any) -> Any:
        try:
            return await self.connector.call(method, **params)
        except MissingExtraError:
            raise
        except Exception as exc:
            raise self._error(exc, op) from None

    @property
    def leases(self) -> LeaseKeeper:
        if self._leases is None or self._leases_loop is not asyncio.get_running_loop():
            raise RuntimeError(f"SQS queue {self.url} is not open on this event loop")
        return self._leases

    async def open(self) -> None:
        """Check the queue exists and start the delete flusher and the heartbeat.

        A missing queue or bad credentials stop startup with a clear error. An endpoint
        that is merely unreachable does not (as with RabbitMQ): ``fetch`` opens again,
        and the runner backs off while it fails.
        """
        if self._leases is not None and self._leases_loop is asyncio.get_running_loop():
            return
        visibility_s = self.visibility_timeout
        if visibility_s is None:
            try:
                visibility_s = await self._queue_visibility_s()
            except ConnectorOperationError as exc:
                if not exc.retryable or self.is_open:
                    raise
                logger.warning("sqs %s: not reachable at startup, will retry: %s", self.url, exc)
                self._set_open_state(True)
                return
            if self._leases is not None and self._leases_loop is asyncio.get_running_loop():
                return  # a concurrent open() finished first: keep its flusher and heartbeat
        extend_to_s = self.heartbeat_visibility_timeout or max(visibility_s, 2)
        # None means "on": beat three times per lease. 0 switches the heartbeat off.
        interval_s = self.heartbeat_interval_s if self.heartbeat_interval_s is not None else extend_to_s / 3
        self._leases = LeaseKeeper(
            url=self.url,
            call=functools.partial(self._call, ConnectorOperation.HEARTBEAT),
            delete_batch_size=self.delete_batch_size,
            delete_flush_interval_s=self.delete_flush_interval_s or 0.05,
            heartbeat_interval_s=interval_s,
            heartbeat_visibility_timeout=extend_to_s,
        )
        self._leases_loop = asyncio.get_running_loop()
        self._leases.start()
        self._set_open_state(True)

    async def _queue_visibility_s(self) -> int:
        """The queue's own visibility timeout (also proves the queue exists at startup)."""
        try:
            response = await self.connector.call(
                "get_queue_attributes", QueueUrl=self.url, AttributeNames=["VisibilityTimeout"]
            )
        except MissingExtraError:
            raise
        except Exception as exc:
            if error_code(exc).lower() in ("accessdenied", "accessdeniedexception"):
                # A role allowed to receive/delete but not to read attributes: assume
                # SQS's default rather than refuse to start.
                logger.warning("sqs %s: cannot read the visibility timeout, assuming 30 s", self.url)
                return _SQS_DEFAULT_VISIBILITY_S
            raise self._error(exc, ConnectorOperation.OPEN) from None
        return int(response.get("Attributes", {}).get("VisibilityTimeout", _SQS_DEFAULT_VISIBILITY_S))

    async def fetch(self, limit: int) -> list[Delivery]:
        await self.open()
        first = await self._receive(min(limit, self.batch_size), self.wait_time_s)
        deliveries = self._track(first)
        # A full first batch means more is waiting: get the rest of ``limit`` with parallel
        # receives that do not wait, instead of one round trip per ten messages.
        sizes: list[int] = []
        remaining = limit - len(deliveries)
        while len(first) == self.batch_size and remaining > 0 and len(sizes) < self.receive_batches - 1:
            sizes.append(min(remaining, self.batch_size))
            remaining -= sizes[-1]
        if sizes:
            results = await asyncio.gather(*(self._receive(n, 0) for n in sizes), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    logger.warning("sqs %s: an extra receive failed: %s", self.url, result)
                    continue
                deliveries += self._track(result)
        return deliveries

    async def _receive(self, max_messages: int, wait_time_s: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "QueueUrl": self.url,
            "MaxNumberOfMessages": max(1, max_messages),
            "WaitTimeSeconds": wait_time_s,
            "AttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if self.visibility_timeout is not None:
            params["VisibilityTimeout"] = self.visibility_timeout
        response = await self._call(ConnectorOperation.FETCH, "receive_message", **params)
        self._fetch_failures = 0
        return list(response.get("Messages", []))

    def _track(self, messages: list[dict[str, Any]]) -> list[Delivery]:
        deliveries: list[Delivery] = []
        for message in messages:
            delivery = SQSDelivery(self, message)
            self.leases.track(delivery.message_id, delivery.receipt_handle)
            deliveries.append(delivery)
        return deliveries

    async def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        try:
            async with self.leases.visibility_lock:
                await self._call(
                    ConnectorOperation.RETRY,
                    "change_message_visibility",
                    QueueUrl=self.url,
                    ReceiptHandle=receipt_handle,
                    VisibilityTimeout=seconds,
                )
        except Exception as exc:
            # The message still comes back when its current visibility runs out.
            logger.warning("sqs %s: visibility change to %ss failed: %s", self.url, seconds, exc)

    def _group_id(self, envelope: Envelope) -> str:
        if self.message_group_field is not None:
            body = envelope.body
            if not isinstance(body, Mapping) or body.get(self.message_group_field) in (None, ""):
                raise ConfigurationError(
                    f"message_group_field {self.message_group_field!r} is missing from the payload sent to {self.url}"
                )
            return str(body[self.message_group_field])
        if callable(self.message_group_id):
            return str(self.message_group_id(envelope))
        if self.message_group_id:
            return self.message_group_id
        raise ConfigurationError(
            f"FIFO queue {self.url} needs message_group_id or message_group_field to send"
        )

    def _send_params(self, envelope: Envelope) -> dict[str, Any]:
        params: dict[str, Any] = {"MessageBody": encode_envelope(envelope).decode("utf-8")}
        if self.fifo:
            params["MessageGroupId"] = self._group_id(envelope)
            if self.deduplication_id_factory is not None:
                params["MessageDeduplicationId"] = str(self.deduplication_id_factory(envelope))
        return params

    async def asend(self, envelope: Envelope) -> None:
        await self._call(
            ConnectorOperation.SEND, "send_message", QueueUrl=self.url, **self._send_params(envelope)
        )

    async def send_many(self, envelopes: Iterable[Envelope]) -> None:
        """Send many envelopes, ten per SendMessageBatch call; raise if any entry failed."""
        envelopes = list(envelopes)
        for start in range(0, len(envelopes), 10):
            chunk = envelopes[start : start + 10]
            entries = [{"Id": str(i), **self._send_params(env)} for i, env in enumerate(chunk)]
            response = await self._call(
                ConnectorOperation.SEND, "send_message_batch", QueueUrl=self.url, Entries=entries
            )
            failed = response.get("Failed", [])
            if failed:
                codes = sorted({str(item.get("Code")) for item in failed})
                raise self._error(
                    RuntimeError(f"{len(failed)} of {len(chunk)} sends failed: {codes}"),
                    ConnectorOperation.SEND,
                )

    async def publish_many(self, bodies: Iterable[Any], *, meta: Mapping[str, Any] | None = None) -> None:
        """``send_many`` for plain bodies (attempts 0), like ``Sink.publish`` for one."""
        await self.send_many(plain_envelopes(bodies, meta))

    async def close(self) -> None:
        leases, self._leases = self._leases, None
        if leases is not None and self._leases_loop is asyncio.get_running_loop():
            await leases.stop()
        self._set_open_state(False)
