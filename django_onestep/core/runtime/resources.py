"""Opening and closing sources, sinks and stores (sync or async ``open``/``close``)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from typing import Any

from django_onestep.core.base import Source

__all__ = ["close_resources", "open_resource"]


async def open_resource(resource: Any) -> None:
    opener = getattr(resource, "open", None)
    if callable(opener):
        try:
            result = opener()
            if inspect.isawaitable(result):
                await result
        except BaseException:
            if isinstance(resource, Source):
                resource.is_open = False
            raise
    if isinstance(resource, Source):
        resource.is_open = True


async def close_resource(resource: Any) -> None:
    closer = getattr(resource, "close", None)
    try:
        if callable(closer):
            result = closer()
            if inspect.isawaitable(result):
                await result
    finally:
        if isinstance(resource, Source):
            resource.is_open = False


async def close_resources(
    resources: Sequence[Any], logger: logging.Logger, *, suppress: bool
) -> BaseException | None:
    """Close in reverse order; every close runs even if one fails. Returns the first error
    (None when ``suppress`` is set or all closed)."""
    first: BaseException | None = None
    for resource in reversed(resources):
        try:
            await close_resource(resource)
        except Exception as exc:
            first = first or exc
            logger.exception(
                "resource close failed",
                extra={"resource_name": getattr(resource, "name", type(resource).__name__)},
            )
    return None if suppress else first
