"""Task definitions: :class:`TaskSpec` (what ``@app.task`` registers) and :class:`TaskHooks`.

Contract for other layers: ``TaskSpec`` is a *mutable* dataclass; the Django layer and
the YAML loader may adjust ``source``, ``emit``, ``retry`` ... before the app serves.
``emit`` and ``dead_letter`` are tuples of sinks. ``sinks`` and ``dead_letter_sinks``
are onestep's names for the same tuples.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django_onestep.core.base import Sink, Source
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.processes.task_executor import checked_executor
from django_onestep.core.retry import NoRetry, RetryPolicy
from django_onestep.core.runtime.batching import check_batch_options, check_batch_source
from django_onestep.core.validation import optional_positive_number, positive_int

__all__ = [
    "TaskHandler",
    "TaskHook",
    "TaskHooks",
    "TaskSpec",
    "attach_enqueue",
    "build_task_spec",
    "normalize_sinks",
]

TaskHandler = Callable[..., Any]
TaskHook = Callable[..., Any]


def _as_callables(name: str, value: Any) -> tuple[TaskHook, ...]:
    if value is None:
        return ()
    if callable(value):
        return (value,)
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ConfigurationError(f"TaskHooks.{name} must be a callable or a list of callables, got {value!r}")
    items = tuple(value)
    for item in items:
        if not callable(item):
            raise ConfigurationError(f"TaskHooks.{name} entries must be callable, got {item!r}")
    return items


@dataclass(frozen=True)
class TaskHooks:
    """Callbacks around a handler: ``before(ctx, payload)``,
    ``after_success(ctx, payload, result)``, ``on_failure(ctx, payload, failure)``.

    Each may be sync or async and may take fewer arguments. A raising ``before`` or
    ``after_success`` hook fails the delivery; a raising ``on_failure`` hook is logged.
    """

    before: tuple[TaskHook, ...] = ()
    after_success: tuple[TaskHook, ...] = ()
    on_failure: tuple[TaskHook, ...] = ()

    def __post_init__(self) -> None:
        for name in ("before", "after_success", "on_failure"):
            object.__setattr__(self, name, _as_callables(name, getattr(self, name)))


@dataclass
class TaskSpec:
    """One registered task. Mutable on purpose (see the module docstring)."""

    name: str
    handler: TaskHandler
    source: Source | None = None
    emit: tuple[Sink, ...] = ()
    dead_letter: tuple[Sink, ...] = ()
    concurrency: int = 1
    retry: RetryPolicy = field(default_factory=NoRetry)
    timeout_s: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    hooks: TaskHooks = field(default_factory=TaskHooks)
    description: str | None = None
    executor: str = "thread"  # sync handlers: "thread" (the app's pool) or "process" (a child)
    time_limit_s: float | None = None  # hard limit: the child is killed (executor="process")
    handler_path: str | None = None  # "module:qualname", how a child imports the handler
    #: Set for a batch handler ``(ctx, payloads)``: see ``batching.py``.
    batch_size: int | None = None
    batch_within_s: float | None = None
    store_result: bool = True  # a result-keeping source (DatabaseQueue) stores the return value

    @property
    def sinks(self) -> tuple[Sink, ...]:
        """onestep's name for :attr:`emit`."""
        return self.emit

    @property
    def dead_letter_sinks(self) -> tuple[Sink, ...]:
        """onestep's name for :attr:`dead_letter`."""
        return self.dead_letter

    @property
    def is_async(self) -> bool:
        """True when the handler is a coroutine function (run on the loop, not in a thread)."""
        return _is_async_callable(self.handler)


def _is_async_callable(func: Any) -> bool:
    while hasattr(func, "func") and not inspect.isfunction(func):  # functools.partial
        func = func.func
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - objects with async __call__
    return call is not None and not inspect.isfunction(func) and inspect.iscoroutinefunction(call)


def normalize_sinks(label: str, value: Sink | Iterable[Sink] | None) -> tuple[Sink, ...]:
    """Accept one sink, a sequence of sinks or None; reject anything else by name."""
    if value is None:
        return ()
    if isinstance(value, Sink):
        items: tuple[Any, ...] = (value,)
    elif isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        # a bare string would otherwise be split into characters, a number raise TypeError
        raise ConfigurationError(f"{label} must be a Sink or a list of Sinks, got {value!r}")
    else:
        items = tuple(value)
    for item in items:
        if not isinstance(item, Sink):
            raise ConfigurationError(f"{label} entries must be Sink instances, got {item!r}")
    return items


def _check_handler_arity(where: str, handler: Callable[..., Any]) -> None:
    """A handler that cannot take ``(ctx, payload)`` would fail every delivery: say so now."""
    try:
        signature = inspect.signature(handler, follow_wrapped=False)  # what is really called
    except (TypeError, ValueError):  # some builtins and C callables have none
        return
    try:
        signature.bind(None, None)
    except TypeError:
        shown = str(getattr(handler, "__qualname__", handler)).rsplit("<locals>.", 1)[-1]
        define = "async def" if _is_async_callable(handler) else "def"
        name = getattr(handler, "__name__", "handler")
        raise ConfigurationError(
            f"{where}: the handler must accept (ctx, payload); {shown}{signature} does not "
            f"(define it as {define} {name}(ctx, payload))"
        ) from None


def build_task_spec(
    *,
    name: str,
    handler: TaskHandler,
    source: Source | None,
    emit: Sink | Iterable[Sink] | None,
    dead_letter: Sink | Iterable[Sink] | None,
    concurrency: int,
    retry: RetryPolicy | None,
    timeout_s: float | None,
    config: Mapping[str, Any] | None,
    hooks: TaskHooks | None,
    description: str | None,
    executor: str = "thread",
    time_limit_s: float | None = None,
    batch_size: int | None = None,
    batch_within_s: float | None = None,
    store_result: bool = True,
) -> TaskSpec:
    """Validate decorator arguments; every error names the task and the bad value."""
    where = f"task {name!r}" if name else "app.task()"
    if not callable(handler):  # before the name: a non-callable has no __name__ to take
        raise ConfigurationError(f"{where}: handler must be callable, got {handler!r}")
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"task name must be a non-empty string, got {name!r}")
    _check_handler_arity(where, handler)
    if source is not None and not isinstance(source, Source):
        raise ConfigurationError(f"{where}: source must be a Source instance, got {source!r}")
    positive_int(f"{where} concurrency", concurrency)
    optional_positive_number(f"{where} timeout_s", timeout_s)
    policy = retry if retry is not None else NoRetry()
    if not callable(getattr(policy, "on_error", None)):
        raise ConfigurationError(f"{where}: retry must have an on_error() method, got {retry!r}")
    if hooks is not None and not isinstance(hooks, TaskHooks):
        raise ConfigurationError(f"{where}: hooks must be a TaskHooks instance, got {hooks!r}")
    if config is not None and not isinstance(config, Mapping):
        raise ConfigurationError(f"{where}: config must be a mapping, got {config!r}")
    if not isinstance(store_result, bool):
        raise ConfigurationError(f"{where}: store_result must be True or False, got {store_result!r}")
    text = description.strip() if isinstance(description, str) else None
    handler_path = checked_executor(
        where, handler, executor, timeout_s, time_limit_s, is_async=_is_async_callable(handler)
    )
    batch_size, batch_within_s = check_batch_options(where, batch_size, batch_within_s)
    check_batch_source(where, batch_size, source)
    return TaskSpec(
        name=name,
        handler=handler,
        source=source,
        emit=normalize_sinks(f"{where}: emit", emit),
        dead_letter=normalize_sinks(f"{where}: dead_letter", dead_letter),
        concurrency=concurrency,
        retry=policy,
        timeout_s=None if timeout_s is None else float(timeout_s),
        config=dict(config or {}),
        hooks=hooks or TaskHooks(),
        description=text or inspect.getdoc(handler),
        executor=executor,
        time_limit_s=None if time_limit_s is None else float(time_limit_s),
        handler_path=handler_path,
        batch_size=batch_size,
        batch_within_s=batch_within_s,
        store_result=store_result,
    )


def attach_enqueue(handler: Any, spec: TaskSpec) -> None:
    """Give the decorated function ``task_spec``, ``enqueue()`` and ``aenqueue()``."""

    def enqueue(payload: Any, **kwargs: Any) -> Any:
        send = getattr(spec.source, "send", None)
        if send is None or not callable(send) or inspect.iscoroutinefunction(send):
            raise TypeError(
                f"task {spec.name!r}: source {spec.source!r} has no synchronous enqueue; "
                f"use 'await {spec.name}.aenqueue(...)'"
            )
        return send(payload, **kwargs)

    async def aenqueue(payload: Any, **kwargs: Any) -> Any:
        if not isinstance(spec.source, Sink):
            raise TypeError(f"task {spec.name!r}: source {spec.source!r} is not a Sink; cannot enqueue")
        return await spec.source.publish(payload, **kwargs)

    try:
        handler.task_spec = spec
        handler.enqueue = enqueue
        handler.aenqueue = aenqueue
    except (AttributeError, TypeError):  # builtins and bound methods refuse attributes
        pass
