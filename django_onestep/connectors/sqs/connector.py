"""Amazon SQS queues as sources and sinks (boto3 in the connector's own threads).

    sqs = SQSConnector(region_name="eu-west-1")
    jobs = sqs.queue("https://sqs.eu-west-1.amazonaws.com/123456789012/jobs")

Long polling, batched deletes, a visibility heartbeat while handlers run, delayed retry
through the message's visibility, attempts from ``ApproximateReceiveCount``, FIFO group
and deduplication ids. boto3 is synchronous: calls run in a small thread pool owned by
the connector (a 20 s long poll must not starve the default executor that sync
handlers use). boto3 is imported only when a queue is used. The queue itself (Source
and Sink) is in ``queue.py``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django_onestep.connectors.settings_checks import checked_options
from django_onestep.connectors.sqs.classify import secret_tokens
from django_onestep.connectors.sqs.delivery import MAX_VISIBILITY_S, SQSDelivery
from django_onestep.connectors.sqs.queue import GroupId, SQSQueue
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import (
    ConfigurationError,
    MissingExtraError,
)
from django_onestep.core.validation import non_negative_number

__all__ = ["SQSConnector", "SQSDelivery", "SQSQueue"]

logger = logging.getLogger("django_onestep.connectors.sqs.connector")

_ON_FAIL = ("leave", "release", "delete")
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
        self._client_lock = threading.Lock()
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

    def _client_once(self) -> Any:
        # Many concurrent first calls (a relay's batch) must build one client, not one
        # each: building a boto3 client costs ~100 ms of CPU.
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    async def call(self, method: str, **params: Any) -> Any:
        """Run one client method in the connector's threads."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_threads, thread_name_prefix="onestep-sqs")
        loop = asyncio.get_running_loop()
        if self._client is None:
            await loop.run_in_executor(self._executor, self._client_once)
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
            non_negative_number(key, number)
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
