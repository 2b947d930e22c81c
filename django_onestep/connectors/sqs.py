"""Amazon SQS queues as sources and sinks (boto3 in the connector's own threads).

    sqs = SQSConnector(region_name="eu-west-1")
    jobs = sqs.queue("https://sqs.eu-west-1.amazonaws.com/123456789012/jobs")

Long polling, batched deletes, a visibility heartbeat while handlers run, delayed retry
through the message's visibility, attempts from ``ApproximateReceiveCount``, FIFO group
and deduplication ids. boto3 is synchronous: calls run in a small thread pool owned by
the connector (a 20 s long poll must not starve the default executor that sync
handlers use). boto3 is imported only when a queue is used.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django_onestep.core.base import Delivery, Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import (
    ConfigurationError,
    ConnectorOperation,
    ConnectorOperationError,
    MissingExtraError,
)

from .codec import encode_envelope, plain_envelopes
from .settings_checks import checked_options
from .sqs_delivery import MAX_VISIBILITY_S, SQSDelivery
from .sqs_errors import error_code, secret_tokens, to_connector_error
from .sqs_leases import LeaseKeeper

__all__ = ["SQSConnector", "SQSDelivery", "SQSQueue"]

logger = logging.getLogger("django_onestep.connectors.sqs")

GroupId = str | Callable[[Envelope], str]
_ON_FAIL = ("leave", "release", "delete")
_SQS_DEFAULT_VISIBILITY_S = 30
_FETCH_BACKOFF_CAP_S = 30.0
# boto3 Session.client() keywords ``options`` may set (region_name and endpoint_url
# have their own parameters); checked at construction, without importing boto3.
_CLIENT_OPTIONS = frozenset({
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_account_id",
    "api_version", "use_ssl", "verify", "config",
})  # fmt: skip


class SQSConnector:
    """A boto3 SQS client (created on first use) plus the threads its calls run in."""

    def __init__(
        self,
        region_name: str | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        endpoint_url: str | None = None,
        client: Any | None = None,
        max_threads: int = 16,
    ) -> None:
        if type(max_threads) is not int or max_threads < 2:
            raise ConfigurationError(f"max_threads must be an integer >= 2, got {max_threads!r}")
        self.options = checked_options("SQSConnector", options, _CLIENT_OPTIONS)
        for key, value in (("region_name", region_name), ("endpoint_url", endpoint_url)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigurationError(f"SQSConnector {key} must be a non-empty string, got {value!r}")
        self.region_name = region_name
        self.endpoint_url = endpoint_url
        self.max_threads = max_threads
        self._client = client
        self._executor: ThreadPoolExecutor | None = None
        self.tokens = secret_tokens(self.options)

    def __repr__(self) -> str:
        return f"SQSConnector(region_name={self.region_name!r}, endpoint_url={self.endpoint_url!r})"

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise MissingExtraError("boto3", "sqs") from None
        options = dict(self.options)
        # read_timeout above the longest long poll (20 s) but far below botocore's 60 s, so
        # a silently dead connection is noticed quickly; options={"config": Config(...)} wins.
        config = Config(
            max_pool_connections=self.max_threads,
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=10,
            read_timeout=30,
        )
        if "config" in options:
            config = config.merge(options.pop("config"))
        # A session per connector: boto3's default session is not safe to share across threads.
        session = boto3.session.Session()
        return session.client(
            "sqs", region_name=self.region_name, endpoint_url=self.endpoint_url, config=config, **options
        )

    async def call(self, method: str, **params: Any) -> Any:
        """Run one client method in the connector's threads."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_threads, thread_name_prefix="onestep-sqs")
        loop = asyncio.get_running_loop()
        if self._client is None:
            self._client = await loop.run_in_executor(self._executor, self._make_client)
        return await loop.run_in_executor(
            self._executor, functools.partial(getattr(self._client, method), **params)
        )

    def queue(
        self,
        url: str,
        *,
        wait_time_s: int = 20,
        visibility_timeout: int | None = None,
        batch_size: int = 10,
        receive_batches: int = 4,
        poll_interval_s: float = 0.0,
        message_group_id: GroupId | None = None,
        message_group_field: str | None = None,
        deduplication_id_factory: Callable[[Envelope], str] | None = None,
        on_fail: str = "leave",
        delete_batch_size: int = 10,
        delete_flush_interval_s: float = 0.5,
        heartbeat_interval_s: float | None = None,
        heartbeat_visibility_timeout: int | None = None,
    ) -> SQSQueue:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ConfigurationError(f"SQS queue url must be the queue's http(s) URL, got {url!r}")
        ints = {
            "wait_time_s": (wait_time_s, 0, 20),
            "batch_size": (batch_size, 1, 10),
            "delete_batch_size": (delete_batch_size, 1, 10),
            "receive_batches": (receive_batches, 1, 10),
        }
        if visibility_timeout is not None:
            ints["visibility_timeout"] = (visibility_timeout, 0, MAX_VISIBILITY_S)
        if heartbeat_visibility_timeout is not None:
            ints["heartbeat_visibility_timeout"] = (heartbeat_visibility_timeout, 1, MAX_VISIBILITY_S)
        for key, (value, low, high) in ints.items():
            if type(value) is not int or not low <= value <= high:
                raise ConfigurationError(f"{key} must be an integer in [{low}, {high}], got {value!r}")
        for key, number in (
            ("poll_interval_s", poll_interval_s),
            ("delete_flush_interval_s", delete_flush_interval_s),
            ("heartbeat_interval_s", heartbeat_interval_s or 0),
        ):
            if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
                raise ConfigurationError(f"{key} must be a number >= 0, got {number!r}")
        if on_fail not in _ON_FAIL:
            raise ConfigurationError(f"on_fail must be one of {list(_ON_FAIL)}, got {on_fail!r}")
        if message_group_id is not None and message_group_field is not None:
            raise ConfigurationError("give message_group_id or message_group_field, not both")
        if message_group_id is not None and not (
            isinstance(message_group_id, str) or callable(message_group_id)
        ):
            raise ConfigurationError(
                f"message_group_id must be a string or a callable, got {message_group_id!r}"
            )
        if message_group_field is not None and (
            not isinstance(message_group_field, str) or not message_group_field
        ):
            raise ConfigurationError(
                f"message_group_field must be a payload key (a non-empty string), got {message_group_field!r}"
            )
        if deduplication_id_factory is not None and not callable(deduplication_id_factory):
            raise ConfigurationError(
                f"deduplication_id_factory must be a callable envelope -> str, got {deduplication_id_factory!r}"
            )
        hb_timeout = heartbeat_visibility_timeout
        if heartbeat_interval_s and hb_timeout is not None and heartbeat_interval_s >= hb_timeout:
            raise ConfigurationError(
                f"heartbeat_interval_s ({heartbeat_interval_s}) must be shorter than "
                f"heartbeat_visibility_timeout ({hb_timeout})"
            )
        return SQSQueue(
            self,
            url,
            wait_time_s=wait_time_s,
            visibility_timeout=visibility_timeout,
            batch_size=batch_size,
            receive_batches=receive_batches,
            poll_interval_s=float(poll_interval_s),
            message_group_id=message_group_id,
            message_group_field=message_group_field,
            deduplication_id_factory=deduplication_id_factory,
            on_fail=on_fail,
            delete_batch_size=delete_batch_size,
            delete_flush_interval_s=float(delete_flush_interval_s),
            heartbeat_interval_s=heartbeat_interval_s,
            heartbeat_visibility_timeout=heartbeat_visibility_timeout,
        )


class SQSQueue(Source, Sink):
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

    async def send(self, envelope: Envelope) -> None:
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


def _register_yaml_types() -> None:
    # The YAML loader lists this module for the "sqs"/"sqs_queue" types.
    try:
        from .sqs_yaml import register
    except ImportError:  # a build without the declarative layer
        return
    register()


_register_yaml_types()
