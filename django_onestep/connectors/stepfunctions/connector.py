"""AWS Step Functions activities as sources (boto3 in the connector's own threads).

    sfn = StepFunctionsConnector(region_name="eu-west-1")
    resize = sfn.activity("arn:aws:states:eu-west-1:123456789012:activity:resize", heartbeat_s=20)

    @app.task(source=resize, concurrency=4)
    def resize_image(ctx, task_input): ...

Each ``GetActivityTask`` long poll (up to 60 s on AWS) holds one thread, so the
connector has threads of its own: a poll must not starve the default executor that
sync handlers use. boto3 is imported only when an activity is used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import socket
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django_onestep.connectors.settings_checks import checked_options
from django_onestep.connectors.stepfunctions.activity import ActivitySource
from django_onestep.connectors.stepfunctions.classify import secret_tokens
from django_onestep.core.errors import ConfigurationError, MissingExtraError
from django_onestep.core.validation import positive_number

__all__ = ["StepFunctionsConnector"]

_CLIENT_OPTIONS = frozenset({
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "api_version",
    "use_ssl", "verify", "config",
})  # fmt: skip
# AWS holds a GetActivityTask for up to 60 s: the read timeout must outlast it.
_READ_TIMEOUT_S = 70


class StepFunctionsConnector:
    """A boto3 ``stepfunctions`` client (created on first use) plus its threads."""

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
            raise ConfigurationError(
                f"StepFunctionsConnector max_threads must be an integer >= 2, got {max_threads!r}"
            )
        self.options = checked_options("StepFunctionsConnector", options, _CLIENT_OPTIONS)
        for key, value in (("region_name", region_name), ("endpoint_url", endpoint_url)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigurationError(
                    f"StepFunctionsConnector {key} must be a non-empty string, got {value!r}"
                )
        self.region_name = region_name
        self.endpoint_url = endpoint_url
        self.max_threads = max_threads
        self.tokens = secret_tokens(self.options)
        self._client = client
        self._executor: ThreadPoolExecutor | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"StepFunctionsConnector(region_name={self.region_name!r}, endpoint_url={self.endpoint_url!r})"

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise MissingExtraError("boto3", "stepfunctions") from None
        options = dict(self.options)
        config = Config(
            max_pool_connections=self.max_threads,
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=10,
            read_timeout=_READ_TIMEOUT_S,
        )
        if "config" in options:
            config = config.merge(options.pop("config"))
        session = boto3.session.Session()  # the default session is not thread-safe
        return session.client(
            "stepfunctions",
            region_name=self.region_name,
            endpoint_url=self.endpoint_url,
            config=config,
            **options,
        )

    def call_sync(self, method: str, **params: Any) -> Any:
        """One client method, in the calling thread (boto3 clients are thread-safe)."""
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
        return getattr(self._client, method)(**params)

    async def call(self, method: str, **params: Any) -> Any:
        """Run one client method in the connector's threads."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_threads, thread_name_prefix="onestep-sfn")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self.call_sync, method, **params))

    def long_poll(self, method: str, **params: Any) -> concurrent.futures.Future[Any]:
        """Start a long poll in a daemon thread of its own: a worker that stops never
        waits (up to 60 s) for a poll nobody needs any more to return."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(self.call_sync(method, **params))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=run, name="onestep-sfn-poll", daemon=True).start()
        return future

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True)

    def activity(
        self,
        arn: str,
        *,
        heartbeat_s: float | None = 30.0,
        worker_name: str | None = None,
        poll_interval_s: float = 0.0,
    ) -> ActivitySource:
        """A Source of the activity's tasks; ``heartbeat_s`` (or None: no heartbeats) is how
        often ``SendTaskHeartbeat`` goes out while a handler runs: well below the state's
        ``HeartbeatSeconds``."""
        if not isinstance(arn, str) or not arn.startswith("arn:") or ":activity:" not in arn:
            raise ConfigurationError(
                f"StepFunctionsConnector.activity: arn must be an activity ARN "
                f"(arn:aws:states:<region>:<account>:activity:<name>), got {arn!r}"
            )
        if heartbeat_s is not None:
            positive_number("StepFunctionsConnector.activity heartbeat_s", heartbeat_s)
        return ActivitySource(
            self,
            arn,
            heartbeat_s=None if heartbeat_s is None else float(heartbeat_s),
            worker_name=worker_name or f"{socket.gethostname()}:{os.getpid()}",
            poll_interval_s=float(poll_interval_s),
        )
