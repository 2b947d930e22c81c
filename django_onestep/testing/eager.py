"""Eager mode: enqueueing runs the handler at once, in the caller's thread.

Inside ``with eager():`` a call to ``handler.enqueue(payload)`` (or the task queue's
``send``/``publish``) builds a context and calls the handler immediately, returning
its result; an exception propagates to the caller so the test sees it. Retry policies,
hooks, emit sinks and dead letters are not involved (nor a batch handler's per-item
marks: it gets a batch of one payload and its marks are ignored): eager mode tests the handler with
the caller's database connection (and so inside a ``TestCase`` transaction). Use
``run_until_idle`` to test the whole delivery path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django_onestep.testing._patch import patched_enqueue, split_payload

__all__ = ["eager"]


def _delivery(payload: Any, meta: dict[str, Any]) -> Any:
    from django_onestep.core.base import Delivery
    from django_onestep.core.envelope import Envelope

    class EagerDelivery(Delivery):
        async def ack(self) -> None:
            return None

        async def retry(self, *, delay_s: float | None = None) -> None:
            return None

        async def fail(self, exc: Exception | None = None) -> None:
            return None

    return EagerDelivery(Envelope(body=payload, meta={**meta, "eager": True}, attempts=0))


class _CallerThreadStore:
    """``ctx.state`` in eager mode: the ORM store's sync methods, in the caller's thread.

    The worker's store writes through its own DB thread and connection. Called from a
    test, that connection is outside the test's transaction: on SQLite it waits for the
    test's write lock ("database is locked"), elsewhere it commits state that outlives
    the test. Through the sync methods (``sync_to_async`` routes them back to the
    thread that called ``enqueue``), state joins the test's transaction like the
    handler's other queries.
    """

    def __init__(self, store: Any) -> None:
        self._store = store

    async def load(self, key: str) -> Any:
        from asgiref.sync import sync_to_async

        return await sync_to_async(self._store.load_sync)(key)

    async def save(self, key: str, value: Any) -> None:
        from asgiref.sync import sync_to_async

        await sync_to_async(self._store.save_sync)(key, value)

    async def delete(self, key: str) -> None:
        from asgiref.sync import sync_to_async

        await sync_to_async(self._store.delete_sync)(key)


def _eager_state(app: Any, spec: Any) -> Any:
    from django_onestep.core.state import ScopedState

    store = app.state
    store = getattr(store, "store", store)  # the project app's LazyStateStore
    if callable(getattr(store, "save_sync", None)):
        store = _CallerThreadStore(store)
    else:
        store = app.state  # another store (memory, Redis...): as the worker uses it
    return ScopedState(store, f"{app.name}:{spec.name}")


def _context(app: Any, spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    from django_onestep.core.runtime.context import TaskContext

    payload, meta, _options = split_payload(args, kwargs)
    delivery = _delivery(payload, meta)
    if spec.batch_size is not None:  # a batch handler gets a batch of one
        from django_onestep.core.runtime.batch_context import Batch, BatchContext

        batch = Batch([delivery])
        return BatchContext(app=app, task=spec, batch=batch, state=_eager_state(app, spec)), [payload]
    return TaskContext(app=app, task=spec, delivery=delivery, state=_eager_state(app, spec)), payload


def _is_async(spec: Any) -> bool:
    return asyncio.iscoroutinefunction(spec.handler)


@contextmanager
def eager(app: Any = None) -> Iterator[None]:
    if app is None:
        from django_onestep.project.project_app import get_project_app

        app = get_project_app()

    def make_sync(spec: Any) -> Callable[..., Any]:
        def run_now(*args: Any, **kwargs: Any) -> Any:
            ctx, payload = _context(app, spec, args, kwargs)
            if _is_async(spec):
                from asgiref.sync import async_to_sync

                return async_to_sync(spec.handler)(ctx, payload)
            return spec.handler(ctx, payload)

        return run_now

    def make_async(spec: Any) -> Callable[..., Any]:
        async def arun_now(*args: Any, **kwargs: Any) -> Any:
            ctx, payload = _context(app, spec, args, kwargs)
            if _is_async(spec):
                return await spec.handler(ctx, payload)
            from asgiref.sync import sync_to_async

            return await sync_to_async(spec.handler)(ctx, payload)

        return arun_now

    with patched_enqueue(app, make_sync, make_async):
        yield
