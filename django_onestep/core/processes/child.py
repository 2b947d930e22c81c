"""The loop a child process runs: set up once, then run one handler call at a time.

Messages from the parent: ``(handler_path, ctx, payload, soft_limit_s)``, or ``None``
to exit. Replies: ``("ready",)`` after setup (or ``("setup_failed", message)``), then
one ``("ok", result, retiring)`` or ``("error", exc_or_None, type, message, traceback,
retiring)`` per call. ``retiring`` says the child exits after this reply
(``max_tasks_per_child`` or ``max_memory_per_child_mb`` reached), so the parent
replaces it.
"""

from __future__ import annotations

import pickle
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

from django_onestep.core.processes.child_context import ChildTaskContext
from django_onestep.core.processes.handler_ref import import_path
from django_onestep.core.processes.limits import SoftTimeLimitExceeded
from django_onestep.core.processes.resident_memory import resident_memory_kib

__all__ = ["child_main", "rss_mb"]

Wrapper = Callable[[Callable[[], Any]], Any]


def rss_mb() -> float:
    return resident_memory_kib() / 1024


def _on_soft_limit(signum: int, frame: FrameType | None) -> None:
    raise SoftTimeLimitExceeded("the handler ran past its soft time limit (timeout_s)")


def _error_reply(exc: BaseException, retiring: bool) -> tuple[Any, ...]:
    text = "".join(traceback.format_exception(exc))
    try:  # the parent re-raises the same exception when it survives the trip
        carried: BaseException | None = pickle.loads(pickle.dumps(exc))
    except Exception:
        carried = None
    return ("error", carried, type(exc).__qualname__, str(exc), text, retiring)


def child_main(
    conn: Connection, setup_path: str | None, max_tasks: int | None, max_memory_mb: float | None
) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when
    # children stop, so a handler is not interrupted half-way by it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _on_soft_limit)
    wrapper: Wrapper | None = None
    try:
        if setup_path:
            wrapper = import_path(setup_path)()
    except BaseException as exc:
        conn.send(("setup_failed", f"{setup_path}: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready",))
    handlers: dict[str, Any] = {}
    done = 0
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent went away
            return
        if message is None:
            return
        path, ctx, payload, soft_limit_s = message
        done += 1
        retiring = max_tasks is not None and done >= max_tasks
        try:
            handler = handlers.get(path)
            if handler is None:
                handler = handlers[path] = import_path(path)
            result = _call(handler, ctx, payload, soft_limit_s, wrapper)
        except BaseException as exc:
            retiring = retiring or (max_memory_mb is not None and rss_mb() > max_memory_mb)
            conn.send(_error_reply(exc, retiring))
        else:
            retiring = retiring or (max_memory_mb is not None and rss_mb() > max_memory_mb)
            try:
                conn.send(("ok", result, retiring))
            except Exception as exc:  # a result that cannot be pickled
                conn.send(
                    _error_reply(TypeError(f"the handler's result cannot be sent back: {exc}"), retiring)
                )
        if retiring:
            return


def _call(
    handler: Any, ctx: ChildTaskContext, payload: Any, soft_limit_s: float | None, wrapper: Wrapper | None
) -> Any:
    if soft_limit_s is not None:
        signal.setitimer(signal.ITIMER_REAL, soft_limit_s)
    try:
        if wrapper is None:
            return handler(ctx, payload)
        return wrapper(lambda: handler(ctx, payload))
    finally:
        if soft_limit_s is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
