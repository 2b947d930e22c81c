"""OneStepApp: task registry, lifecycle and controls (onestep 1.x compatible).

Contracts other layers rely on (keep them stable):

* ``app.tasks`` -> list of :class:`TaskSpec` in registration order; ``app.get_task(name)``
  -> the spec or ValueError naming the task.
* ``OneStepApp(..., dead_letter_factory=f)``: ``f(app, spec) -> Sink`` gives the dead-letter
  sink of every task that names none (called once per task, then cached). Replay and
  discard use it too.
* ``app.sync_handler_wrapper``: optional ``wrapper(fn) -> result`` run *inside* the worker
  thread around each sync handler call (the Django layer closes stale DB connections).
* ``await app.serve(until_idle=False, tasks=None)``: ``tasks`` names the tasks to run
  (unknown name -> ValueError); ``until_idle=True`` returns once every runner is idle
  at the same time: its source returned nothing, nothing is in flight and the source
  reports no ``pending_count()`` (confirmed by one more empty poll each).
* ``app.runtime_status()`` -> per-task in-flight counts (for worker heartbeats).
* ``@app.task(...)`` returns the original function with ``task_spec``, ``enqueue()``
  and ``aenqueue()`` attached.
* ``app.runtime`` is the :class:`Runtime` the runtime's own modules share (registry,
  hooks, lifecycle, runners, resources); other layers use the app's methods instead.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal, NoReturn, ParamSpec, TypeVar, cast, overload

from django_onestep.core.base import Sink, Source
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.events import StructuredEventLogger, TaskEvent
from django_onestep.core.processes.pool_options import ProcessPoolOptions
from django_onestep.core.retry import RetryPolicy
from django_onestep.core.runtime import serving
from django_onestep.core.runtime.app_controls import AppControls
from django_onestep.core.runtime.controls import Controls
from django_onestep.core.runtime.describe import describe_app
from django_onestep.core.runtime.leader_option import make_leader_only
from django_onestep.core.runtime.runtime_state import Runtime
from django_onestep.core.runtime.task import TaskHooks, TaskSpec, attach_enqueue, build_task_spec
from django_onestep.core.runtime.task_function import TaskDecorator, TaskFunction
from django_onestep.core.runtime.task_options import bare_decorator_error, unknown_options_error
from django_onestep.core.state import InMemoryStateStore, StateStore
from django_onestep.core.validation import optional_positive_number

__all__ = ["OneStepApp"]

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")
DeadLetterFactory = Callable[["OneStepApp", TaskSpec], Sink]


class OneStepApp(AppControls):
    """A set of tasks, the sources they read and the sinks they write, run by ``serve()``."""

    def __init__(
        self,
        name: str,
        *,
        config: Mapping[str, Any] | None = None,
        state: StateStore | None = None,
        shutdown_timeout_s: float | None = 30.0,
        dead_letter_factory: DeadLetterFactory | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"app name must be a non-empty string, got {name!r}")
        optional_positive_number("shutdown_timeout_s", shutdown_timeout_s)
        if config is not None and not isinstance(config, Mapping):
            raise ConfigurationError(f"config must be a mapping, got {config!r}")
        if state is not None and not all(
            callable(getattr(state, m, None)) for m in ("load", "save", "delete")
        ):
            raise ConfigurationError(f"state must be a StateStore (async load/save/delete), got {state!r}")
        if dead_letter_factory is not None and not callable(dead_letter_factory):
            raise ConfigurationError(f"dead_letter_factory must be callable, got {dead_letter_factory!r}")
        self.name = name
        self.config: dict[str, Any] = dict(config or {})
        self.state: StateStore = state if state is not None else InMemoryStateStore()
        self.shutdown_timeout_s = None if shutdown_timeout_s is None else float(shutdown_timeout_s)
        self.dead_letter_factory = dead_letter_factory
        self.sync_handler_wrapper: Callable[[Callable[[], Any]], Any] | None = None
        self.process_pool_options = ProcessPoolOptions()  # executor="process" tasks
        self.events_logger = logging.getLogger(f"onestep.{name}.events")
        # What the runtime modules (serving, runners, executor, controls) share.
        self.runtime = Runtime(self, name, self.events_logger)
        self._controls = Controls(self)
        self._dead_letter_cache: dict[str, tuple[Sink, ...]] = {}

    def __repr__(self) -> str:
        return f"<OneStepApp {self.name!r} tasks={[t.name for t in self.runtime.tasks]}>"

    # -- registry -----------------------------------------------------------------------
    @property
    def tasks(self) -> list[TaskSpec]:
        """Registered tasks, in registration order (a new list each time)."""
        return list(self.runtime.tasks)

    def get_task(self, name: str) -> TaskSpec:
        spec = self.runtime.find_task(name)
        if spec is None:
            raise ValueError(f"task {name!r} was not found in app {self.name!r}")
        return spec

    # Typed so that the decorated handler keeps its signature and gains enqueue/aenqueue;
    # the bare ``@app.task`` form raises, and type checkers see that too.
    @overload
    def task(self, func: Callable[P, R], /) -> NoReturn: ...

    @overload
    def task(
        self,
        func: None = None,
        /,
        *,
        name: str | None = None,
        source: Source | None = None,
        emit: Sink | Iterable[Sink] | None = None,
        dead_letter: Sink | Iterable[Sink] | None = None,
        concurrency: int = 1,
        retry: RetryPolicy | None = None,
        timeout_s: float | None = None,
        config: Mapping[str, object] | None = None,
        hooks: TaskHooks | None = None,
        description: str | None = None,
        executor: Literal["thread", "process"] = "thread",
        time_limit_s: float | None = None,
        batch_size: int | None = None,
        batch_within_s: float | None = None,
        store_result: bool = True,
        leader_only: bool = False,
    ) -> TaskDecorator: ...

    def task(
        self,
        func: Any = None,
        /,
        *,
        name: str | None = None,
        source: Source | None = None,
        emit: Sink | Iterable[Sink] | None = None,
        dead_letter: Sink | Iterable[Sink] | None = None,
        concurrency: int = 1,
        retry: RetryPolicy | None = None,
        timeout_s: float | None = None,
        config: Mapping[str, object] | None = None,
        hooks: TaskHooks | None = None,
        description: str | None = None,
        executor: Literal["thread", "process"] = "thread",
        time_limit_s: float | None = None,
        batch_size: int | None = None,
        batch_within_s: float | None = None,
        store_result: bool = True,
        leader_only: bool = False,
        **unknown: Any,
    ) -> Any:
        """Register a handler ``(ctx, payload)``: ``@app.task(source=..., ...)``.

        With ``batch_size=N`` it is a batch handler ``(ctx, payloads)``: it gets lists of
        up to N payloads, gathered for at most ``batch_within_s`` (docs/batches.md).

        Bad options raise :class:`ConfigurationError` naming the task, when the decorator
        is applied: an option this runtime does not take (Celery's ``bind``,
        ``max_retries``, ``queue``... with what to write instead), ``@app.task`` without
        parentheses (it would register a task that never runs), a bad value, a handler
        that cannot take ``(ctx, payload)``, a name already taken.
        """
        if func is not None:
            raise bare_decorator_error(func)

        def decorator(handler: Callable[P, R]) -> TaskFunction[P, R]:
            task_name = name if name is not None else getattr(handler, "__name__", None)
            if unknown:
                raise unknown_options_error(task_name, unknown)
            spec = build_task_spec(
                name=task_name,  # type: ignore[arg-type]  # validated inside
                handler=handler,
                source=source,
                emit=emit,
                dead_letter=dead_letter,
                concurrency=concurrency,
                retry=retry,
                timeout_s=timeout_s,
                config=config,
                hooks=hooks,
                description=description,
                executor=executor,
                time_limit_s=time_limit_s,
                batch_size=batch_size,
                batch_within_s=batch_within_s,
                store_result=store_result,
            )
            if self.runtime.find_task(spec.name) is not None:
                raise ConfigurationError(
                    f"duplicate task name {spec.name!r} in app {self.name!r} "
                    "(give every task a unique name: @app.task(name=...))"
                )
            if leader_only:
                make_leader_only(spec.name, source)
            validate = getattr(source, "validate_task", None)
            if callable(validate):
                validate(spec.name)
            self.runtime.tasks.append(spec)
            attach_enqueue(handler, spec)
            # the attributes are missing only on callables that refuse them (builtins)
            return cast("TaskFunction[P, R]", handler)

        return decorator

    def dead_letter_sinks_for(self, spec: TaskSpec) -> tuple[Sink, ...]:
        """The task's own dead-letter sinks, else the factory's sink (cached per task)."""
        if spec.dead_letter:
            return spec.dead_letter
        if self.dead_letter_factory is None:
            return ()
        cached = self._dead_letter_cache.get(spec.name)
        if cached is None:
            sink = self.dead_letter_factory(self, spec)
            if not isinstance(sink, Sink):
                raise ConfigurationError(
                    f"dead_letter_factory must return a Sink for task {spec.name!r}, got {sink!r}"
                )
            cached = (sink,)
            self._dead_letter_cache[spec.name] = cached
        return cached

    # -- named resources (onestep's app.resources) ----------------------------------------
    @property
    def resources(self) -> Mapping[str, Any]:
        """Resources registered by name: opened first at startup (before the state store
        and the tasks' sources and sinks), closed last, never closed by a per-task stop."""
        return MappingProxyType(self.runtime.named_resources)

    def register_resource(self, name: str, resource: Any) -> Any:
        """Add (or replace) the resource called ``name``; returns ``resource``."""
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"register_resource(): name must be a non-empty string, got {name!r}")
        self.runtime.named_resources[name] = resource
        return resource

    def bind_resources(self, resources: Mapping[str, Any]) -> None:
        """Replace every named resource with ``resources``."""
        if not isinstance(resources, Mapping):
            raise ConfigurationError(f"bind_resources(): resources must be a mapping, got {resources!r}")
        named = dict(resources)
        for name in named:
            if not isinstance(name, str) or not name:
                raise ConfigurationError(f"bind_resources(): names must be non-empty strings, got {name!r}")
        self.runtime.named_resources = named

    # -- hooks --------------------------------------------------------------------------
    def on_startup(self, func: F | None = None) -> Any:
        return _register(self.runtime.hub.startup_hooks.append, func)

    def on_shutdown(self, func: F | None = None) -> Any:
        return _register(self.runtime.hub.shutdown_hooks.append, func)

    def on_event(self, func: F | None = None) -> Any:
        """Register ``handler(event)``; a raising handler is logged, never breaks a task."""
        return _register(self.runtime.hub.add_event_handler, func)

    async def emit_event(self, event: TaskEvent) -> None:
        """Deliver ``event`` to every ``on_event`` handler, in order; a raising handler is
        logged and the others still get it."""
        await self.runtime.hub.emit(event)

    def enable_structured_event_logging(self) -> StructuredEventLogger:
        for handler in self.runtime.hub.event_handlers:
            if isinstance(handler, StructuredEventLogger):
                return handler
        logger = StructuredEventLogger()
        self.on_event(logger)
        return logger

    # -- lifecycle ----------------------------------------------------------------------
    def _select(self, names: Iterable[str] | None) -> list[TaskSpec]:
        if names is None:
            return list(self.runtime.tasks)
        if isinstance(names, str):
            names = [names]
        wanted = list(names)
        known = {spec.name for spec in self.runtime.tasks}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise ValueError(f"unknown task(s) {unknown} in app {self.name!r}; known: {sorted(known)}")
        return [spec for spec in self.runtime.tasks if spec.name in wanted]

    async def startup(self, *, tasks: Iterable[str] | None = None) -> None:
        """Open the state store, sources and sinks in order, then run ``on_startup`` hooks.
        If anything fails, the resources opened so far are closed (reverse order)."""
        await serving.startup(self, self._select(tasks))

    async def shutdown(self) -> None:
        """Run ``on_shutdown`` hooks, then close what startup opened (reverse order)."""
        await serving.shutdown(self)

    async def serve(self, until_idle: bool = False, tasks: Iterable[str] | None = None) -> None:
        """Start up, run one runner per task with a source, shut down when asked.

        Returns when ``request_shutdown()`` is called (or a signal arrives under ``run()``),
        or, with ``until_idle=True``, once every runner is idle. A non-retryable fetch error
        stops every runner and is raised after shutdown.
        """
        await serving.serve(self, self._select(tasks), until_idle=until_idle)

    def run(self, *, until_idle: bool = False, tasks: Iterable[str] | None = None) -> None:
        """``asyncio.run(serve())`` with SIGINT/SIGTERM requesting a graceful shutdown;
        a second signal stops at once."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # no loop running: the normal case
        else:
            raise RuntimeError("app.run() starts its own event loop; in async code use 'await app.serve()'")
        try:
            with serving.signal_handlers(self.runtime.lifecycle):
                asyncio.run(self.serve(until_idle=until_idle, tasks=tasks))
        except KeyboardInterrupt:
            return

    # -- introspection ------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary of the app and its tasks (onestep's shape, trimmed)."""
        return describe_app(self)

    @classmethod
    def load(cls, target: str) -> OneStepApp:
        """Resolve ``"module:attr"`` (attr defaults to ``app``) to an app or a zero-arg factory."""
        module_name, _, attr = target.partition(":")
        if not module_name:
            raise ConfigurationError(f"app target must look like 'module:app', got {target!r}")
        value = getattr(importlib.import_module(module_name), attr or "app", None)
        if callable(value) and not isinstance(value, cls):
            value = value()
        if not isinstance(value, cls):
            raise ConfigurationError(f"{target!r} did not resolve to a OneStepApp (got {value!r})")
        return value


def _register(add: Callable[[Any], None], func: Any) -> Any:
    def decorator(callback: Any) -> Any:
        if not callable(callback):
            raise ConfigurationError(f"hook must be callable, got {callback!r}")
        add(callback)
        return callback

    return decorator if func is None else decorator(func)
