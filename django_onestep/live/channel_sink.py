"""``ChannelLayerSink``: a task's output, sent to a Channels group.

``@app.task(source=..., emit=ChannelLayerSink(group="orders"))`` sends each output to
the ``orders`` group as ``{"type": "onestep.output", "body": ..., "meta": ...}``;
``group`` may be a function of the output body (``lambda body: f"user.{body['user']}"``).
A consumer in that group receives it in its ``onestep_output`` method.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django_onestep.core.base import Sink
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import (
    ConfigurationError,
    ConnectorErrorKind,
    ConnectorOperation,
    ConnectorOperationError,
)

__all__ = ["ChannelLayerSink"]

_GROUP = re.compile(r"^[A-Za-z0-9_.-]{1,99}$")
GroupOf = Callable[[Any], str]


def _check_group(group: Any) -> str:
    if not isinstance(group, str) or not _GROUP.match(group):
        raise ConfigurationError(
            f"ChannelLayerSink group must be 1-99 characters of letters, digits, '_', '.', '-'; got {group!r}"
        )
    return group


class ChannelLayerSink(Sink):
    """Send each envelope's body to a Channels group (``layer`` names a ``CHANNEL_LAYERS`` alias)."""

    def __init__(self, group: str | GroupOf, *, name: str | None = None, layer: str = "default") -> None:
        if not callable(group):
            _check_group(group)
        label = group if isinstance(group, str) else getattr(group, "__name__", "group")
        super().__init__(name or f"channels:{label}")
        self.group = group
        self.layer = layer

    def group_for(self, body: Any) -> str:
        return _check_group(self.group(body) if callable(self.group) else self.group)

    async def send(self, envelope: Envelope) -> None:
        from django_onestep.live.job_events import channel_layer

        layer = channel_layer(self.layer)
        if layer is None:
            raise ConfigurationError(
                f"ChannelLayerSink {self.name!r}: CHANNEL_LAYERS has no {self.layer!r} layer "
                "(pip install 'django-onestep[channels]' and configure CHANNEL_LAYERS)"
            )
        group = self.group_for(envelope.body)
        try:
            await layer.group_send(
                group, {"type": "onestep.output", "body": envelope.body, "meta": envelope.meta}
            )
        except Exception as exc:
            raise ConnectorOperationError(
                backend="channels",
                operation=ConnectorOperation.SEND,
                kind=ConnectorErrorKind.TRANSIENT,
                source_name=self.name,
                cause=exc,
                message=f"ChannelLayerSink {self.name!r} could not send to group {group!r}: {type(exc).__name__}",
            ) from exc
