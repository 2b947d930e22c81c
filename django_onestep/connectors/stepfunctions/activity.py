"""One Step Functions activity as a Source: long-poll ``GetActivityTask``, one task per poll."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.stepfunctions.classify import classify, error_code, to_connector_error
from django_onestep.connectors.stepfunctions.delivery import RELEASED, ActivityDelivery
from django_onestep.core.base import Delivery, Source
from django_onestep.core.errors import (
    ConfigurationError,
    ConnectorErrorKind,
    ConnectorOperation,
    MissingExtraError,
)

if TYPE_CHECKING:
    from django_onestep.connectors.stepfunctions.connector import StepFunctionsConnector

__all__ = ["ActivitySource"]

logger = logging.getLogger("django_onestep.connectors.stepfunctions")


class ActivitySource(Source):
    """``fetch`` is one ``GetActivityTask`` long poll: at most one task per call (the
    runner polls again while it has free slots).

    A fetch cancelled while its poll is out (a shutdown) leaves the poll running in its
    thread; a task it still receives is failed at once with ``onestep.Released`` so
    the state machine's ``Retry`` can hand it to another worker instead of waiting for
    its timeout.
    """

    batch_size = 1
    fetch_is_cancel_safe = True

    def __init__(
        self,
        connector: StepFunctionsConnector,
        arn: str,
        *,
        heartbeat_s: float | None,
        worker_name: str,
        poll_interval_s: float,
    ) -> None:
        super().__init__(arn.rsplit(":", 1)[-1])
        self.connector = connector
        self.arn = arn
        self.heartbeat_s = heartbeat_s
        self.worker_name = worker_name
        self.poll_interval_s = poll_interval_s

    def __repr__(self) -> str:
        return f"ActivitySource({self.arn!r}, heartbeat_s={self.heartbeat_s!r})"

    def preflight(self) -> None:
        """Before the worker serves (and in ``onestep_check``): the activity exists and the
        credentials may read it. An unreachable endpoint is left to the fetch's back-off."""
        try:
            self.connector.call_sync("describe_activity", activityArn=self.arn)
        except MissingExtraError:
            raise
        except Exception as exc:
            if classify(exc) is not ConnectorErrorKind.MISCONFIGURED:
                raise
            raise ConfigurationError(
                f"Step Functions activity {self.arn}: {error_code(exc) or type(exc).__name__}: "
                "create the activity, or fix its ARN, region or credentials"
            ) from None

    async def fetch(self, limit: int) -> list[Delivery]:
        future = self.connector.long_poll(
            "get_activity_task", activityArn=self.arn, workerName=self.worker_name
        )
        try:
            response = await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            future.add_done_callback(self._release_late_task)
            raise
        except MissingExtraError:
            raise
        except Exception as exc:
            raise to_connector_error(
                exc, operation=ConnectorOperation.FETCH, source_name=self.name, tokens=self.connector.tokens
            ) from None
        token = response.get("taskToken")
        if not token:
            return []  # the poll ended without a task
        return [ActivityDelivery(self, token, response.get("input", "null"))]

    async def close(self) -> None:
        # the connector's threads start again on its next call, if another activity has one
        await self.connector.close()

    def _release_late_task(self, future: concurrent.futures.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        token = future.result().get("taskToken")
        if not token:
            return
        error, cause = RELEASED
        try:
            self.connector.call_sync("send_task_failure", taskToken=token, error=error, cause=cause)
        except Exception:
            logger.warning(
                "activity %s: could not release a task received during shutdown", self.name, exc_info=True
            )
