"""The batch options of a task (``batch_size``, ``batch_within_s``) and what a source
must offer to feed batches.

Any source works: a batch is gathered by calling ``fetch(limit)`` until it holds
``batch_size`` items or ``batch_within_s`` has passed since its first item, and each
item is settled on its own delivery (ack, retry, fail). A source that hands out at most
N deliveries before some are settled (RabbitMQ's ``prefetch``) says so with
``max_unsettled = N`` and ``max_unsettled_option = "prefetch"``: a batch larger than
that could never fill, so it is a configuration error, not a silent cap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.validation import non_negative_number, positive_int

if TYPE_CHECKING:
    from django_onestep.core.base import Source

__all__ = ["DEFAULT_BATCH_WITHIN_S", "check_batch_options", "check_batch_source"]

#: How long a batch waits for more items after its first, when ``batch_within_s`` is unset.
DEFAULT_BATCH_WITHIN_S = 1.0


def check_batch_options(
    where: str, batch_size: int | None, batch_within_s: float | None
) -> tuple[int | None, float | None]:
    """``(batch_size, batch_within_s)`` validated; ``(None, None)`` for a one-item task."""
    if batch_size is None:
        if batch_within_s is not None:
            raise ConfigurationError(
                f"{where}: batch_within_s needs batch_size (set batch_size=N to get lists of payloads)"
            )
        return None, None
    size = positive_int(f"{where} batch_size", batch_size)
    if batch_within_s is None:
        return size, DEFAULT_BATCH_WITHIN_S
    return size, non_negative_number(f"{where} batch_within_s", batch_within_s)


def check_batch_source(where: str, batch_size: int | None, source: Source | None) -> None:
    """Refuse a batch the source could never fill (more than it hands out unsettled)."""
    if batch_size is None or source is None:
        return
    limit = getattr(source, "max_unsettled", None)
    if limit is None or batch_size <= limit:
        return
    option = getattr(source, "max_unsettled_option", "its prefetch")
    raise ConfigurationError(
        f"{where}: batch_size={batch_size} is more than source {source.name!r} hands out before "
        f"any is settled ({option}={limit}); set {option} to at least {batch_size} or lower batch_size"
    )
