"""OneStepApp: decorator options, emit, ctx, hooks, lifecycle, contracts for other layers."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from django_onestep import (
    Envelope,
    InMemoryStateStore,
    MaxAttempts,
    MemoryQueue,
    NoRetry,
    OneStepApp,
    TaskHooks,
)
from django_onestep.core.base import Sink, Source
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.runtime.task import TaskSpec

from .conftest import EventLog, serve_idle

ROOT = Path(__file__).resolve().parents[2]

SEED_RUNTIME_DEMO = """
from django_onestep import InMemoryMetrics, InMemoryStateStore, MemoryQueue, OneStepApp, StructuredEventLogger

source = MemoryQueue("incoming")
dead = MemoryQueue("dead-letter")
metrics = InMemoryMetrics()
app = OneStepApp(
    "runtime-demo",
    config={"prefix": "demo"},
    state=InMemoryStateStore(),
    shutdown_timeout_s=10.0,
)
app.on_event(metrics)
app.on_event(StructuredEventLogger())


@app.on_startup
async def bootstrap(app):
    await source.publish({"value": 1})


@app.task(source=source, timeout_s=5.0, dead_letter=dead)
async def consume(ctx, item):
    runs = await ctx.state.get("runs", 0)
    await ctx.state.set("runs", runs + 1)
    print(ctx.config["prefix"], item)
    ctx.app.request_shutdown()
"""


def test_seed_readme_runtime_demo_runs_unchanged() -> None:
    script = SEED_RUNTIME_DEMO + textwrap.dedent(
        """
        app.run()
        snapshot = metrics.snapshot()
        print(snapshot["kinds"])
        print(app.state.snapshot())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    assert out == [
        "demo {'value': 1}",
        "{'fetched': 1, 'started': 1, 'succeeded': 1}",
        "{'runtime-demo:consume:runs': 1}",
    ]


async def test_seed_readme_emit_example() -> None:
    app = OneStepApp("demo")
    source = MemoryQueue("incoming")
    sink = MemoryQueue("processed")

    @app.task(source=source, emit=sink, concurrency=4)
    async def double(ctx, item):
        ctx.app.request_shutdown()
        return {"value": item["value"] * 2}

    await source.publish({"value": 21})
    await app.serve()
    assert [(e.body, e.meta, e.attempts) for e in sink.drain_nowait()] == [({"value": 42}, {}, 0)]


async def test_return_value_goes_to_every_emit_sink_and_none_to_none() -> None:
    app = OneStepApp("a")
    source, s1, s2 = MemoryQueue("in"), MemoryQueue("s1"), MemoryQueue("s2")

    @app.task(source=source, emit=[s1, s2])
    async def work(ctx, item):
        return None if item == "skip" else item.upper()

    await source.publish("x")
    await source.publish("skip")
    await serve_idle(app)
    assert [e.body for e in s1.drain_nowait()] == ["X"]
    assert [e.body for e in s2.drain_nowait()] == ["X"]


async def test_ctx_emit_default_explicit_sink_and_meta() -> None:
    app = OneStepApp("a")
    source, out, other = MemoryQueue("in"), MemoryQueue("out"), MemoryQueue("other")
    errors: list[str] = []

    @app.task(source=source, emit=out)
    async def work(ctx, item):
        await ctx.emit("to-default", meta={"m": 1})
        await ctx.emit("to-other", sink=other)

    @app.task(source=MemoryQueue("in2"))
    async def no_sink(ctx, item):
        try:
            await ctx.emit("x")
        except RuntimeError as exc:
            errors.append(str(exc))

    await source.publish(1)
    await app.get_task("no_sink").source.publish(1)  # type: ignore[union-attr]
    await serve_idle(app)
    assert [(e.body, e.meta) for e in out.drain_nowait()] == [("to-default", {"m": 1})]
    assert [e.body for e in other.drain_nowait()] == ["to-other"]
    assert errors == ["task 'no_sink': emit() needs a sink (the task has no emit sinks)"]


async def test_ctx_exposes_config_state_current_logger_and_app() -> None:
    store = InMemoryStateStore()
    app = OneStepApp("shop", config={"region": "eu"}, state=store)
    source = MemoryQueue("in")
    seen: dict[str, object] = {}

    @app.task(source=source, config={"batch": 5})
    async def orders(ctx, item):
        await ctx.state.set("cursor", 42)
        seen.update(
            config=ctx.config,
            task_config=ctx.task_config,
            body=ctx.current.body,
            meta=ctx.current.meta,
            attempts=ctx.current.attempts,
            logger=ctx.logger.name,
            app=ctx.app,
            cursor=await ctx.state.get("cursor"),
            missing=await ctx.state.get("nope", "dflt"),
        )

    await source.publish({"id": 1}, meta={"m": True})
    await serve_idle(app)
    assert seen == {
        "config": {"region": "eu"},
        "task_config": {"batch": 5},
        "body": {"id": 1},
        "meta": {"m": True},
        "attempts": 0,
        "logger": "onestep.shop.orders",
        "app": app,
        "cursor": 42,
        "missing": "dflt",
    }
    assert store.snapshot() == {"shop:orders:cursor": 42}


async def test_hooks_run_in_order_with_flexible_arity() -> None:
    calls: list[tuple[object, ...]] = []

    async def before(ctx, payload):
        calls.append(("before", payload))

    def after(ctx, payload, result):
        calls.append(("after", payload, result))

    def after_short(ctx):
        calls.append(("after_short", ctx.task.name))

    def on_failure(ctx, payload, failure):
        calls.append(("failure", payload, failure.kind.value, failure.message))

    def bad_failure_hook(ctx, payload, failure):
        raise RuntimeError("hook broke")

    app = OneStepApp("h")
    source = MemoryQueue("in")
    hooks = TaskHooks(
        before=(before,), after_success=(after, after_short), on_failure=[bad_failure_hook, on_failure]
    )

    @app.task(source=source, hooks=hooks)
    async def work(ctx, item):
        if item == "bad":
            raise ValueError("bad item")
        return item * 2

    await source.publish(2)
    await source.publish("bad")
    await serve_idle(app)
    assert calls == [
        ("before", 2),
        ("after", 2, 4),
        ("after_short", "work"),
        ("before", "bad"),
        ("failure", "bad", "error", "bad item"),
    ]


async def test_raising_before_hook_fails_the_delivery(events: EventLog) -> None:
    app = OneStepApp("h")
    app.on_event(events)
    source = MemoryQueue("in")
    ran: list[int] = []

    def before(ctx, payload):
        raise RuntimeError("not allowed")

    @app.task(source=source, hooks=TaskHooks(before=(before,)))
    async def work(ctx, item):
        ran.append(item)

    await source.publish(1)
    await serve_idle(app)
    assert ran == []
    assert events.kinds() == ["fetched", "started", "failed"]
    assert events.events[-1].failure is not None
    assert events.events[-1].failure.message == "not allowed"


async def test_raising_event_handler_is_logged_and_never_breaks_the_task(
    caplog: pytest.LogCaptureFixture, events: EventLog
) -> None:
    app = OneStepApp("h")

    @app.on_event
    def broken(event):
        raise RuntimeError("observer bug")

    app.on_event(events)
    source = MemoryQueue("in")
    sink = MemoryQueue("out")

    @app.task(source=source, emit=sink)
    async def work(ctx, item):
        return item

    await source.publish(1)
    with caplog.at_level(logging.ERROR, logger="onestep.h.events"):
        await serve_idle(app)
    assert [e.body for e in sink.drain_nowait()] == [1]
    assert events.kinds() == ["fetched", "started", "succeeded"]
    records = [r for r in caplog.records if r.name == "onestep.h.events"]
    assert [r.getMessage() for r in records] == ["event handler failed"] * 3
    assert [r.event_kind for r in records] == ["fetched", "started", "succeeded"]  # type: ignore[attr-defined]


def test_task_decorator_validation_errors_name_the_value() -> None:
    app = OneStepApp("v")

    async def handler(ctx, item): ...

    with pytest.raises(ValueError, match=r"^task 'handler' concurrency: must be >= 1, got 0$"):
        app.task(source=MemoryQueue("q"), concurrency=0)(handler)
    with pytest.raises(ValueError, match=r"^task 'handler' timeout_s: must be > 0, got -1$"):
        app.task(timeout_s=-1)(handler)
    with pytest.raises(ValueError, match=r"^task 'handler' timeout_s: must be > 0, got 0$"):
        app.task(timeout_s=0)(handler)
    with pytest.raises(ValueError, match=r"source must be a Source instance, got 'queue'"):
        app.task(source="queue")(handler)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"emit entries must be Sink instances, got 5"):
        app.task(emit=[5])(handler)  # type: ignore[list-item]
    with pytest.raises(
        ValueError, match=r"task 'handler': dead_letter must be a Sink or a list of Sinks, got 5$"
    ):
        app.task(dead_letter=5)(handler)  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"task 'handler': emit must be a Sink or a list of Sinks, got 'out'$"
    ):
        app.task(emit="out")(handler)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^app.task\(\): handler must be callable, got 5$"):
        app.task(source=MemoryQueue("q"))(5)  # type: ignore[type-var]

    async def one_arg(item): ...

    with pytest.raises(
        ValueError,
        match=r"^task 'one_arg': the handler must accept \(ctx, payload\); one_arg\(item\) does not "
        r"\(define it as async def one_arg\(ctx, payload\)\)$",
    ):
        app.task(source=MemoryQueue("q"))(one_arg)
    with pytest.raises(ValueError, match=r"^shutdown_timeout_s: must be > 0, got 0$"):
        OneStepApp("x", shutdown_timeout_s=0)
    with pytest.raises(ValueError, match=r"app name must be a non-empty string, got ''"):
        OneStepApp("")
    with pytest.raises(ValueError, match=r"state must be a StateStore \(async load/save/delete\), got \{\}"):
        OneStepApp("x", state={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"hook must be callable, got 'nope'"):
        app.on_startup("nope")
    with pytest.raises(ValueError, match=r"hook must be callable, got 3"):
        app.on_event(3)
    assert app.tasks == []


def test_task_hooks_validation_names_the_value() -> None:
    with pytest.raises(
        ValueError, match=r"^TaskHooks.before must be a callable or a list of callables, got 5$"
    ):
        TaskHooks(before=5)  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"^TaskHooks.on_failure must be a callable or a list of callables, got 'x'$"
    ):
        TaskHooks(on_failure="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^TaskHooks.after_success entries must be callable, got 3$"):
        TaskHooks(after_success=[print, 3])  # type: ignore[list-item]
    assert TaskHooks(before=print).before == (print,)


def test_handlers_of_every_accepted_shape_register() -> None:
    app = OneStepApp("shapes")

    class Handler:
        def __call__(self, ctx, payload, extra=None): ...

    async def with_varargs(*args): ...

    async def with_defaults(ctx, payload=None, *, region="eu"): ...

    app.task(name="callable_object")(Handler())
    app.task()(with_varargs)
    app.task()(with_defaults)
    app.task(name="a_lambda")(lambda ctx, payload: payload)
    assert [t.name for t in app.tasks] == ["callable_object", "with_varargs", "with_defaults", "a_lambda"]


async def test_run_inside_a_running_loop_says_to_await_serve() -> None:
    app = OneStepApp("nested")
    with pytest.raises(
        RuntimeError,
        match=r"^app.run\(\) starts its own event loop; in async code use 'await app.serve\(\)'$",
    ):
        app.run()


def test_duplicate_task_names_are_rejected() -> None:
    app = OneStepApp("dup")

    @app.task(name="same")
    async def first(ctx, item): ...

    # ConfigurationError is a ValueError, so onestep code catching ValueError still works.
    with pytest.raises(ConfigurationError, match=r"duplicate task name 'same' in app 'dup'"):

        @app.task(name="same")
        async def second(ctx, item): ...

    assert issubclass(ConfigurationError, ValueError)

    assert [t.name for t in app.tasks] == ["same"]


def test_registry_contract_tasks_get_task_and_spec_fields() -> None:
    app = OneStepApp("reg")
    q, out, dead = MemoryQueue("q"), MemoryQueue("out"), MemoryQueue("dead")
    policy = MaxAttempts(2)

    @app.task(source=q, emit=out, dead_letter=dead, concurrency=3, retry=policy, timeout_s=2, config={"a": 1})
    async def first(ctx, item):
        """First task."""

    @app.task()
    def second(ctx, item):
        return item

    assert [t.name for t in app.tasks] == ["first", "second"]
    spec = app.get_task("first")
    assert isinstance(spec, TaskSpec)
    assert (spec.source, spec.emit, spec.dead_letter) == (q, (out,), (dead,))
    assert (spec.concurrency, spec.retry, spec.timeout_s, spec.config) == (3, policy, 2.0, {"a": 1})
    assert spec.description == "First task."
    assert spec.sinks == (out,) and spec.dead_letter_sinks == (dead,)
    assert isinstance(app.get_task("second").retry, NoRetry)
    assert app.get_task("second").is_async is False
    spec.concurrency = 5  # mutable on purpose: other layers adjust specs
    assert app.get_task("first").concurrency == 5
    with pytest.raises(ValueError, match=r"task 'nope' was not found in app 'reg'"):
        app.get_task("nope")


async def test_decorator_returns_function_with_spec_enqueue_and_aenqueue() -> None:
    app = OneStepApp("enq")
    q = MemoryQueue("q")

    class SyncSendSource(Source):
        def __init__(self) -> None:
            super().__init__("db")
            self.sent: list[tuple[object, dict[str, object]]] = []

        async def fetch(self, limit: int) -> list:  # type: ignore[type-arg]
            return []

        def send(self, payload: object, **kwargs: object) -> str:
            self.sent.append((payload, kwargs))
            return "job-1"

    @app.task(source=q)
    async def on_memory(ctx, item):
        return item + 1

    db = SyncSendSource()

    @app.task(source=db)
    def on_db(ctx, item):
        return item

    assert await on_memory(None, 1) == 2  # still the plain function
    assert on_memory.task_spec is app.get_task("on_memory")  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match=r"has no synchronous enqueue; use 'await on_memory.aenqueue"):
        on_memory.enqueue({"x": 1})  # type: ignore[attr-defined]
    await on_memory.aenqueue({"x": 1}, meta={"m": 2})  # type: ignore[attr-defined]
    [env] = q.drain_nowait()
    assert (env.body, env.meta) == ({"x": 1}, {"m": 2})
    assert on_db.enqueue({"y": 2}, priority=3) == "job-1"  # type: ignore[attr-defined]
    assert db.sent == [({"y": 2}, {"priority": 3})]
    with pytest.raises(TypeError, match=r"is not a Sink"):
        await on_db.aenqueue({"y": 2})  # type: ignore[attr-defined]


async def test_dead_letter_factory_covers_tasks_without_dead_letter() -> None:
    made: list[str] = []
    factory_sink = MemoryQueue("factory-dead")
    own_dead = MemoryQueue("own-dead")

    def factory(app: OneStepApp, spec: TaskSpec) -> Sink:
        made.append(spec.name)
        return factory_sink

    app = OneStepApp("dlf", dead_letter_factory=factory)
    q1, q2 = MemoryQueue("q1"), MemoryQueue("q2")

    @app.task(source=q1)
    async def uses_factory(ctx, item):
        raise RuntimeError("x")

    @app.task(source=q2, dead_letter=own_dead)
    async def has_own(ctx, item):
        raise RuntimeError("y")

    await q1.publish(1)
    await q1.publish(2)
    await q2.publish(3)
    await serve_idle(app)
    assert made == ["uses_factory"]  # once per task, cached
    assert [e.body["payload"] for e in factory_sink.drain_nowait()] == [1, 2]
    assert [e.body["payload"] for e in own_dead.drain_nowait()] == [3]


async def test_sync_handler_runs_in_worker_thread_inside_wrapper() -> None:
    app = OneStepApp("sync")
    q, out = MemoryQueue("q"), MemoryQueue("out")
    wrapped: list[int] = []

    def wrapper(fn):
        wrapped.append(threading.get_ident())
        return fn()

    app.sync_handler_wrapper = wrapper

    @app.task(source=q, emit=out)
    def work(ctx, item):
        return (item, threading.get_ident(), threading.current_thread().name)

    await q.publish("a")
    await serve_idle(app)
    [env] = out.drain_nowait()
    item, ident, thread_name = env.body
    assert item == "a"
    assert ident != threading.get_ident()
    assert thread_name.startswith("onestep-sync")
    assert wrapped == [ident]


async def test_startup_opens_in_order_and_closes_opened_ones_when_startup_fails() -> None:
    log: list[str] = []

    class Res(MemoryQueue):
        def __init__(self, name: str, fail: bool = False) -> None:
            super().__init__(name)
            self.fail = fail

        async def open(self) -> None:
            log.append(f"open {self.name}")
            if self.fail:
                raise ConnectionError(f"cannot open {self.name}")

        async def close(self) -> None:
            log.append(f"close {self.name}")

    app = OneStepApp("life")
    a, b, c = Res("a"), Res("b"), Res("c", fail=True)

    @app.task(source=a, emit=b, dead_letter=c)
    async def work(ctx, item): ...

    with pytest.raises(ConnectionError, match="cannot open c"):
        await app.serve()
    assert log == ["open a", "open b", "open c", "close b", "close a"]
    assert not a.is_open


async def test_startup_and_shutdown_hooks_with_and_without_app_argument() -> None:
    log: list[object] = []

    class Res(MemoryQueue):
        async def open(self) -> None:
            log.append("open")

        async def close(self) -> None:
            log.append("close")

    app = OneStepApp("life")

    @app.on_startup
    async def start(app_arg):
        log.append(("startup", app_arg.name))

    @app.on_startup()
    def start_noarg():
        log.append("startup-noarg")

    @app.on_shutdown
    def stop(app_arg):
        log.append(("shutdown", app_arg.name))

    @app.task(source=Res("q"))
    async def work(ctx, item): ...

    await serve_idle(app)
    assert log == ["open", ("startup", "life"), "startup-noarg", ("shutdown", "life"), "close"]


async def test_failing_startup_hook_closes_resources() -> None:
    log: list[str] = []

    class Res(MemoryQueue):
        async def close(self) -> None:
            log.append("close")

    app = OneStepApp("life")

    @app.on_startup
    def explode():
        raise RuntimeError("bad config")

    @app.task(source=Res("q"))
    async def work(ctx, item): ...

    with pytest.raises(RuntimeError, match="bad config"):
        await app.serve()
    assert log == ["close"]


def test_describe_lists_tasks() -> None:
    app = OneStepApp("d")

    @app.task(source=MemoryQueue("q"), emit=MemoryQueue("o"), concurrency=2)
    async def work(ctx, item):
        """Does work."""

    described = app.describe()
    assert described["name"] == "d"
    assert described["tasks"][0] | {} == {
        "name": "work",
        "description": "Does work.",
        "source": {"name": "q", "type": "MemoryQueue"},
        "emit": [{"name": "o", "type": "MemoryQueue"}],
        "dead_letter": [],
        "config": {},
        "hooks": {"before": 0, "after_success": 0, "on_failure": 0},
        "concurrency": 2,
        "timeout_s": None,
        "retry": "NoRetry",
        "handler_kind": "async",
    }


def test_envelope_defaults() -> None:
    assert Envelope(body=1) == Envelope(body=1, meta={}, attempts=0)


async def test_shutdown_hook_error_still_closes_resources_then_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []

    class Res(MemoryQueue):
        async def close(self) -> None:
            log.append(f"close {self.name}")
            if self.name == "bad":
                raise OSError("close failed")

    app = OneStepApp("life")

    @app.on_shutdown
    def hook():
        log.append("hook")
        raise RuntimeError("hook failed")

    @app.on_shutdown
    async def second_hook():
        log.append("second hook")  # still runs: its cleanup must not depend on the first
        raise ValueError("second hook failed")

    @app.task(source=Res("good"), emit=Res("bad"))
    async def work(ctx, item): ...

    with pytest.raises(RuntimeError, match="hook failed"):
        await serve_idle(app)
    assert log == ["hook", "second hook", "close bad", "close good"]
    logged = [r for r in caplog.records if r.getMessage() == "shutdown hook failed"]
    assert [(r.hook, str(r.exc_info[1])) for r in logged] == [("second_hook", "second hook failed")]  # type: ignore[attr-defined,index]

    log.clear()
    app.runtime.hub.shutdown_hooks.clear()
    with pytest.raises(OSError, match="close failed"):
        await serve_idle(app)
    assert log == ["close bad", "close good"]


async def test_async_event_handlers_are_awaited_in_order() -> None:
    app = OneStepApp("aev")
    seen: list[str] = []

    @app.on_event
    async def observe(event):
        await asyncio.sleep(0)
        seen.append(event.kind.value)

    queue = MemoryQueue("in")

    @app.task(source=queue)
    async def work(ctx, item): ...

    await queue.publish(1)
    await serve_idle(app)
    assert seen == ["fetched", "started", "succeeded"]


async def test_wait_for_shutdown_returns_when_shutdown_is_requested() -> None:
    app = OneStepApp("bg")
    queue = MemoryQueue("in")
    ended: list[str] = []

    @app.on_startup
    async def start_background(app):
        async def loop() -> None:
            await app.wait_for_shutdown()
            ended.append("background loop ended")

        app.background = asyncio.create_task(loop())

    @app.task(source=queue)
    async def work(ctx, item):
        ctx.app.request_shutdown()

    await queue.publish(1)
    await asyncio.wait_for(app.serve(), 10)
    await asyncio.wait_for(app.background, 10)
    assert ended == ["background loop ended"]
