"""``StepCall``: one call of a workflow, written down as JSON so any worker can make it.

Two payload shapes, after the two kinds of task:

* ``"celery"``: the payload is ``{"args": [...], "kwargs": {...}}``; the previous
  stage's result is prepended to ``args`` (Celery's rule), unless ``immutable``.
* ``"payload"``: an ``@app.task`` handler takes one payload; a step made without one
  (``step(handler)``) gets the previous stage's result as its payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = ["NO_INPUT", "StepCall", "step"]


class _NoInput:
    def __repr__(self) -> str:
        return "NO_INPUT"


NO_INPUT: Any = _NoInput()  # the first stage: nothing came before it


@dataclass(frozen=True)
class StepCall:
    task: str
    queue: str
    using: str
    shape: str  # "celery" | "payload"
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    payload: Any = None
    has_payload: bool = False
    immutable: bool = False
    send: Mapping[str, Any] = field(default_factory=dict)  # priority, delay_s...

    def to_json(self) -> dict[str, Any]:
        return {
            "shape": self.shape,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "payload": self.payload,
            "has_payload": self.has_payload,
            "immutable": self.immutable,
            "send": dict(self.send),
        }

    def with_input(self, args: Sequence[Any], kwargs: Mapping[str, Any] | None = None) -> StepCall:
        """The call with the workflow's own arguments (``chain(...).delay(x)``) added."""
        if self.immutable:
            return self
        if self.shape == "payload":
            if self.has_payload or not args:
                return self
            return replace(self, payload=args[0], has_payload=True)
        return replace(self, args=(*args, *self.args), kwargs={**self.kwargs, **(kwargs or {})})


def job_payload(call: Mapping[str, Any], previous: Any) -> Any:
    """The payload to enqueue for a stored ``call``, given the previous stage's result."""
    feed = previous is not NO_INPUT and not call["immutable"]
    if call["shape"] == "payload":
        if call["has_payload"] or not feed:
            return call["payload"]
        return previous
    args = [previous, *call["args"]] if feed else list(call["args"])
    return {"args": args, "kwargs": dict(call["kwargs"])}


def step(handler: Any, *payload: Any, immutable: bool = False, **send: Any) -> StepCall:
    """A workflow step of an ``@app.task`` handler whose source is a ``DatabaseQueue``.

    ``step(handler, payload)`` runs it with ``payload``; ``step(handler)`` with the
    previous stage's result (a list for a group). ``send`` takes the queue's options
    (``priority``, ``delay_s``...).
    """
    from django_onestep.dbqueue.queue import DatabaseQueue

    spec = getattr(handler, "task_spec", None)
    name = getattr(spec, "name", None) or getattr(handler, "__name__", repr(handler))
    source = getattr(spec, "source", None)
    if not isinstance(source, DatabaseQueue):
        raise ConfigurationError(
            f"step({name}): a workflow step needs an @app.task handler whose source is a "
            f"DatabaseQueue, got source {source!r}"
        )
    if len(payload) > 1:
        raise TypeError(f"step({name}): takes one payload, got {len(payload)}")
    return StepCall(
        task=str(name),
        queue=source.name,
        using=source.using,
        shape="payload",
        payload=payload[0] if payload else None,
        has_payload=bool(payload),
        immutable=immutable,
        send=dict(send),
    )
