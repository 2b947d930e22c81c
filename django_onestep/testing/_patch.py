"""Temporarily replace enqueue entry points (function attributes and queue methods)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_MISSING = object()


class Patcher:
    """Sets attributes and puts the previous values back (instance attrs deleted)."""

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []

    def set(self, obj: Any, name: str, value: Any) -> None:
        previous = obj.__dict__.get(name, _MISSING) if hasattr(obj, "__dict__") else _MISSING
        self._undo.append((obj, name, previous))
        setattr(obj, name, value)

    def restore(self) -> None:
        for obj, name, previous in reversed(self._undo):
            if previous is _MISSING:
                try:
                    delattr(obj, name)
                except AttributeError:
                    pass
            else:
                setattr(obj, name, previous)
        self._undo.clear()


def task_specs(app: Any) -> list[Any]:
    return [spec for spec in app.tasks if spec.source is not None]


def is_async_method(obj: Any, name: str) -> bool:
    return inspect.iscoroutinefunction(getattr(type(obj), name, None))


@contextmanager
def patched_enqueue(
    app: Any,
    make_sync: Callable[[Any], Callable[..., Any]],
    make_async: Callable[[Any], Callable[..., Any]],
) -> Iterator[None]:
    """Route every enqueue path of every task with a source to the given callables.

    ``make_sync(spec)``/``make_async(spec)`` build the replacement for a task: it is
    installed as ``handler.enqueue``/``handler.aenqueue`` and as the source's
    ``send`` (sync or async as the source defines it) and ``publish``.
    """
    patcher = Patcher()
    try:
        seen_sources: set[int] = set()
        for spec in task_specs(app):
            sync_fn, async_fn = make_sync(spec), make_async(spec)
            handler = spec.handler
            if hasattr(handler, "__dict__"):
                patcher.set(handler, "enqueue", sync_fn)
                patcher.set(handler, "aenqueue", async_fn)
            source = spec.source
            if id(source) in seen_sources:
                continue
            seen_sources.add(id(source))
            if callable(getattr(source, "send", None)):
                patcher.set(
                    source,
                    "send",
                    async_fn if is_async_method(source, "send") else _hybrid(sync_fn, async_fn),
                )
            if callable(getattr(source, "publish", None)):
                patcher.set(source, "publish", async_fn)
            # DatabaseQueue's other entry points
            if callable(getattr(source, "enqueue", None)):
                patcher.set(source, "enqueue", sync_fn)
            if callable(getattr(source, "asend", None)):
                patcher.set(source, "asend", async_fn)
            if callable(getattr(source, "send_many", None)):
                patcher.set(source, "send_many", _many(sync_fn))
        yield
    finally:
        patcher.restore()


def _hybrid(sync_fn: Callable[..., Any], async_fn: Callable[..., Any]) -> Callable[..., Any]:
    """A sync ``send`` that still returns an awaitable for ``send(envelope)`` (the Sink API)."""
    from django_onestep.core.envelope import Envelope

    def send(*args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], Envelope):
            return async_fn(*args, **kwargs)
        return sync_fn(*args, **kwargs)

    return send


def _many(sync_fn: Callable[..., Any]) -> Callable[..., Any]:
    def send_many(payloads: Any, **options: Any) -> list[Any]:
        return [sync_fn(payload, **options) for payload in payloads]

    return send_many


def split_payload(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(payload, meta, options) from ``send(payload_or_envelope, **options)``/``publish(body, ...)``."""
    from django_onestep.core.envelope import Envelope

    options = dict(kwargs)
    if args:
        first = args[0]
    else:
        first = options.pop("body", options.pop("payload", None))
    meta = dict(options.pop("meta", None) or {})
    if isinstance(first, Envelope):
        return first.body, {**first.meta, **meta}, options
    return first, meta, options
