"""Sending to a sink the way the runner does it: one retry on a retryable
ConnectorOperationError, and a DEBUG ``sink send succeeded`` record."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Sink
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorErrorKind, ConnectorOperationError

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["connector_retry_delay_s", "send_to_sink"]

_SEND_ATTEMPTS = 2


def connector_retry_delay_s(exc: ConnectorOperationError, *, fallback_s: float) -> float:
    """How long to back off after ``exc`` (the connector's hint wins; throttling >= 1 s)."""
    if exc.retry_delay_s is not None:
        return max(0.0, exc.retry_delay_s)
    if exc.kind is ConnectorErrorKind.THROTTLED:
        return max(fallback_s, 1.0)
    return max(fallback_s, 0.0)


async def send_to_sink(app: OneStepApp, logger: logging.Logger, sink: Sink, envelope: Envelope) -> None:
    for attempt in range(_SEND_ATTEMPTS):
        try:
            await sink.send(envelope)
        except ConnectorOperationError as exc:
            if not exc.retryable or attempt == _SEND_ATTEMPTS - 1:
                raise
            fallback: Any = getattr(sink, "poll_interval_s", 1.0)
            delay_s = connector_retry_delay_s(exc, fallback_s=float(fallback))
            logger.warning(
                "sink send degraded; retrying",
                extra={
                    "sink_name": sink.name,
                    "connector_backend": exc.backend,
                    "connector_operation": exc.operation.value,
                    "connector_kind": exc.kind.value,
                    "connector_retry_delay_s": delay_s,
                },
                exc_info=exc,
            )
            if delay_s > 0:
                # Wait for the delay, but give up at once (and fail the send) on shutdown.
                if await app.runtime.lifecycle.wait_stopping(delay_s):
                    raise
            continue
        if logger.isEnabledFor(logging.DEBUG):
            connector = getattr(sink, "connector", None)
            logger.debug(
                "sink send succeeded",
                extra={
                    "sink_name": getattr(sink, "name", type(sink).__name__),
                    "sink_kind": type(sink).__name__,
                    "connector_backend": type(connector).__name__ if connector is not None else None,
                    "delivery_attempts": envelope.attempts,
                },
            )
        return
    raise AssertionError("unreachable")  # pragma: no cover
