"""Sync ``send(payload, ...)`` for the broker queues (Redis, RabbitMQ, SQS).

Each broker queue mixes in :class:`SyncSend`: given an ``Envelope`` (what the runtime
awaits) ``send`` returns the transport's awaitable ``asend``; given a payload it
enqueues from sync code and returns the message id. The id is ours (a uuid4 hex),
stamped in the envelope's ``meta["message_id"]`` and, where the broker has a field
for it, in that field too, so a message published twice carries the same id.

Without Django the message is published at once (``publisher_thread``). The Django
layer installs a hook (``set_enqueue_hook``) that publishes on commit or writes an
outbox row instead; the connectors never import Django.
"""

from __future__ import annotations

import asyncio
import os
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django_onestep.connectors.publisher_thread import publish_now
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.validation import non_negative_number

__all__ = [
    "MESSAGE_ID_KEY",
    "MODE_OPTIONS",
    "PublishOptions",
    "SyncSend",
    "known_queue",
    "new_message_id",
    "refuse_event_loop",
    "remember_queue",
    "set_enqueue_hook",
]

MESSAGE_ID_KEY = "message_id"
# Options every broker accepts by name; each refuses the ones it cannot honour.
PUBLISH_OPTIONS = ("delay_s", "priority", "dedupe_key", "group_id")
# Options the Django layer's hook reads (where and when to publish), not the broker.
MODE_OPTIONS = ("on_commit", "using", "outbox")
_OTHER_OPTIONS = ("meta", "message_id")


@dataclass(frozen=True)
class PublishOptions:
    """What a broker is asked to do with one message besides carrying it."""

    delay_s: float | None = None
    priority: int | None = None
    dedupe_key: str | None = None
    group_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value is not None}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PublishOptions:
        return cls(**{key: values[key] for key in PUBLISH_OPTIONS if key in values})

    def refuse(self, queue: str, broker: str, names: tuple[str, ...]) -> None:
        """Raise naming the first of ``names`` that is set: ``broker`` cannot do it."""
        for name in names:
            if getattr(self, name) is not None:
                raise ConfigurationError(
                    f"{queue}: {broker} does not support {name}=; drop the option "
                    f"or use a queue whose broker supports it (see 'Enqueueing from Django code')"
                )


def new_message_id() -> str:
    return uuid.uuid4().hex


def _checked(queue: str, options: Mapping[str, Any]) -> PublishOptions:
    known = (*PUBLISH_OPTIONS, *MODE_OPTIONS, *_OTHER_OPTIONS)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"{queue}.send(): unknown option {unknown[0]!r} (options: {', '.join(known)})")
    delay_s = options.get("delay_s")
    if delay_s is not None:
        non_negative_number("delay_s", delay_s)
    priority = options.get("priority")
    if priority is not None and (type(priority) is not int or not 0 <= priority <= 255):
        raise ConfigurationError(f"priority must be an integer from 0 to 255, got {priority!r}")
    for name in ("dedupe_key", "group_id", "message_id"):
        value = options.get(name)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 128):
            raise ConfigurationError(f"{name} must be a string of 1 to 128 characters, got {value!r}")
    meta = options.get("meta")
    if meta is not None and not isinstance(meta, Mapping):
        raise ConfigurationError(f"meta must be a dict, got {type(meta).__name__}")
    return PublishOptions.from_dict(options)


# (queue, envelope, publish options, mode options) -> message id
EnqueueHook = Callable[[Any, Envelope, PublishOptions, dict[str, Any]], str]
_hook: EnqueueHook | None = None
_queues: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def set_enqueue_hook(hook: EnqueueHook | None) -> None:
    """Installed by the Django layer: decides between at once, on commit and outbox."""
    global _hook
    _hook = hook


def remember_queue(queue: Any) -> None:
    """Every broker queue built in this process, by target, so a relay can find it."""
    _queues.setdefault(queue.publish_target, queue)


def known_queue(target: str) -> Any | None:
    return _queues.get(target)


def refuse_event_loop(queue: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    if os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE"):
        return
    raise TypeError(
        f"{queue}.send(payload) is synchronous and would block the event loop; "
        "in async code use 'await queue.publish(payload)' or 'await task.aenqueue(payload)'"
    )


class SyncSend:
    """Mixed into each broker queue, which provides the members declared here."""

    name: str

    @property
    def publish_target(self) -> str:
        """Names the queue without secrets; the outbox stores it to find the queue again."""
        raise NotImplementedError

    def check_publish_options(self, options: PublishOptions) -> None:
        """Raise ``ConfigurationError`` for an option this broker cannot honour."""
        raise NotImplementedError

    def publisher_twin(self) -> Any:
        """A copy with no connection, for the publisher thread's own event loop."""
        raise NotImplementedError

    async def asend(self, envelope: Envelope) -> None:
        raise NotImplementedError

    async def publish_confirmed(self, envelope: Envelope, options: PublishOptions) -> None:
        """Publish and return once the broker accepted the message (raise otherwise)."""
        raise NotImplementedError

    async def publish_confirmed_many(self, envelopes: list[Envelope], options: PublishOptions) -> None:
        """Publish all; return once the broker accepted every one, raise if any was refused.

        Concurrent single publishes here; transports override it with their bulk send.
        """
        results = await asyncio.gather(
            *(self.publish_confirmed(envelope, options) for envelope in envelopes), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    # Django callers need a sync `send(payload) -> message id`; onestep's Sink.send(envelope)
    # stays awaitable for the runtime: both shapes on one name, as DatabaseQueue does.
    def send(self, payload_or_envelope: Any, **options: Any) -> Any:
        """``send(payload, *, delay_s, priority, dedupe_key, group_id, meta, message_id,
        on_commit, using, outbox) -> message id`` from sync code.

        Given an ``Envelope`` (the Sink API) it returns an awaitable instead.
        """
        if isinstance(payload_or_envelope, Envelope) and not options:
            return self.asend(payload_or_envelope)
        return self.enqueue(payload_or_envelope, **options)

    def enqueue(self, payload: Any, **options: Any) -> str:
        """Alias of the sync ``send(payload, ...)``; returns the message id."""
        label = f"{type(self).__name__}({self.name!r})"
        publish = _checked(label, options)
        self.check_publish_options(publish)
        message_id = options.get("message_id") or new_message_id()
        meta = {**dict(options.get("meta") or {}), MESSAGE_ID_KEY: message_id}
        envelope = Envelope(body=payload, meta=meta)
        modes = {key: options[key] for key in MODE_OPTIONS if key in options}
        if _hook is not None:
            return _hook(self, envelope, publish, modes)
        if modes.get("outbox"):
            raise ConfigurationError(
                f"{label}: outbox=True needs Django (add django_onestep to INSTALLED_APPS)"
            )
        refuse_event_loop(label)
        publish_now(self, envelope, publish)
        return message_id
