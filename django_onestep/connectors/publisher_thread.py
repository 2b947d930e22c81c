"""One event loop thread per process that publishes for sync callers.

A sync view has no event loop, and the broker clients are async: a call hands its
publish to this thread's loop and waits for the broker's confirm. Any number of
threads may call at once; they share the loop and its connections (one per queue).
The loop publishes with a *twin* of each queue (same settings, its own connection),
so a worker serving the same queue object on its own loop in this process is never
disturbed. The thread is a daemon, started on first use; at interpreter exit its
connections are closed.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_onestep.connectors.broker_send import PublishOptions
    from django_onestep.core.envelope import Envelope

__all__ = ["PUBLISH_TIMEOUT_S", "publish_batch", "publish_now", "shutdown"]

PUBLISH_TIMEOUT_S = 60.0  # beyond each transport's own publish/confirm timeouts
_CLOSE_TIMEOUT_S = 10.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_twins: dict[str, Any] = {}  # target -> the loop's own copy of the queue


def _running_loop() -> asyncio.AbstractEventLoop:
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="onestep-publisher", daemon=True)
            thread.start()
            _loop, _thread = loop, thread
            _twins.clear()
        return _loop


def _twin(queue: Any) -> Any:
    # Only ever called on the loop's thread, so no lock is needed.
    target = queue.publish_target
    twin = _twins.get(target)
    if twin is None:
        twin = _twins[target] = queue.publisher_twin()
    return twin


async def _publish(queue: Any, envelope: Envelope, options: PublishOptions) -> None:
    await _twin(queue).publish_confirmed(envelope, options)


async def _publish_all(items: Sequence[tuple[Any, Envelope, PublishOptions]]) -> list[BaseException | None]:
    # One bulk publish per queue and options (a pipeline, a confirm batch, SendMessageBatch);
    # a refused group is reported against each of its items.
    groups: dict[tuple[str, PublishOptions], list[int]] = {}
    for index, (queue, _envelope, options) in enumerate(items):
        groups.setdefault((queue.publish_target, options), []).append(index)

    async def publish_group(indexes: list[int]) -> None:
        queue, _envelope, options = items[indexes[0]]
        await _twin(queue).publish_confirmed_many([items[i][1] for i in indexes], options)

    outcomes = await asyncio.gather(
        *(publish_group(group) for group in groups.values()), return_exceptions=True
    )
    results: list[BaseException | None] = [None] * len(items)
    for indexes, outcome in zip(groups.values(), outcomes, strict=True):
        for index in indexes:
            results[index] = outcome if isinstance(outcome, BaseException) else None
    return results


def publish_now(queue: Any, envelope: Envelope, options: PublishOptions) -> None:
    """Publish from sync code; returns once the broker accepted it, raises otherwise."""
    future = asyncio.run_coroutine_threadsafe(_publish(queue, envelope, options), _running_loop())
    future.result(PUBLISH_TIMEOUT_S)


def publish_batch(
    items: Sequence[tuple[Any, Envelope, PublishOptions]], timeout_s: float = PUBLISH_TIMEOUT_S
) -> list[BaseException | None]:
    """Publish concurrently; per item None (accepted) or the error that refused it.

    Past ``timeout_s`` every item counts as not confirmed (``TimeoutError``), though
    some may still be published: the caller publishes them again, with their ids.
    """
    if not items:
        return []
    future = asyncio.run_coroutine_threadsafe(_publish_all(items), _running_loop())
    try:
        return future.result(timeout_s)
    except TimeoutError:
        future.cancel()
        error = TimeoutError(f"no confirm within {timeout_s:g} s")
        return [error] * len(items)


async def _close_twins() -> None:
    twins = list(_twins.values())
    _twins.clear()
    # each twin owns its connection (a Redis twin its connector): close() releases it
    await asyncio.gather(*(twin.close() for twin in twins), return_exceptions=True)


def shutdown() -> None:
    """Close the publisher's connections and stop its thread (safe to call twice)."""
    global _loop, _thread
    with _lock:
        loop, thread, _loop, _thread = _loop, _thread, None, None
    if loop is None or thread is None or not thread.is_alive():
        return
    try:
        asyncio.run_coroutine_threadsafe(_close_twins(), loop).result(_CLOSE_TIMEOUT_S)
    except Exception:  # closing at exit: a broker already gone is fine
        pass
    loop.call_soon_threadsafe(loop.stop)
    thread.join(_CLOSE_TIMEOUT_S)
    if not thread.is_alive():
        loop.close()


atexit.register(shutdown)
