"""Calling user callbacks that may take fewer arguments and may be sync or async."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["call_flexible", "positional_arity"]

# Arity per callback; user callbacks are few and long-lived, so computing it once
# keeps inspect.signature (about 10 us) off the per-delivery path.
_ARITY_CACHE: dict[int, tuple[Callable[..., Any], int | None]] = {}


def positional_arity(func: Callable[..., Any]) -> int | None:
    """Number of positional parameters of ``func``; None when it takes ``*args`` or is opaque."""
    if inspect.ismethod(func):
        # A bound method is a new object on every attribute access (``policy.on_error``):
        # cache its function instead and drop ``self``.
        arity = positional_arity(func.__func__)
        return None if arity is None else max(arity - 1, 0)
    cached = _ARITY_CACHE.get(id(func))
    if cached is not None and cached[0] is func:
        return cached[1]
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        arity = None
    else:
        arity = 0
        for parameter in signature.parameters.values():
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                arity = None
                break
            if parameter.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
                arity += 1
    if len(_ARITY_CACHE) < 10_000:  # bounded: lambdas created per call must not leak
        _ARITY_CACHE[id(func)] = (func, arity)
    return arity


def call_flexible(func: Callable[..., Any], *args: Any) -> Any:
    """Call ``func`` with as many of ``args`` as it accepts (onestep's hook convention)."""
    arity = positional_arity(func)
    if arity is None or arity >= len(args):
        return func(*args)
    return func(*args[:arity])


async def call_flexible_async(func: Callable[..., Any], *args: Any) -> Any:
    """:func:`call_flexible`, awaiting the result when it is awaitable."""
    result = call_flexible(func, *args)
    if inspect.isawaitable(result):
        return await result
    return result
