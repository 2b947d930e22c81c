"""Which pending chunk a worker reserves next: ``oldest``, ``newest``, ``random``, or
``prefer_distinct(metadata_key)`` (fair between submitters).

Each strategy returns the chunk ids to try, best first, with index seeks only, so the
cost does not grow with the backlog: oldest and newest read one end of the
``(queue, status, id)`` index, random seeks to a random point between its ends, and
prefer_distinct picks a submission among the running ones (a short list) and then
that submission's oldest pending chunk through ``(submission, status, id)``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, Min, QuerySet

from django_onestep.core.errors import ConfigurationError
from django_onestep.models import ChunkStatus, SubmissionChunk, SubmissionRecord, SubmissionStatus

__all__ = ["PreferDistinct", "Strategy", "pending_chunks", "prefer_distinct", "resolve_strategy"]

_NAMED = ("oldest", "newest", "random")


@dataclass(frozen=True)
class PreferDistinct:
    """Rotate between the distinct values of ``metadata[metadata_key]`` of running submissions."""

    metadata_key: str

    def __str__(self) -> str:
        return f"prefer_distinct({self.metadata_key!r})"


Strategy = str | PreferDistinct


def prefer_distinct(metadata_key: str) -> PreferDistinct:
    if not isinstance(metadata_key, str) or not metadata_key:
        raise ConfigurationError(
            f"prefer_distinct: metadata_key must be a non-empty string, got {metadata_key!r}"
        )
    return PreferDistinct(metadata_key)


def resolve_strategy(where: str, strategy: Any) -> Strategy:
    if isinstance(strategy, PreferDistinct) or strategy in _NAMED:
        return strategy  # type: ignore[no-any-return]
    raise ConfigurationError(
        f"{where}: strategy must be 'oldest', 'newest', 'random' or prefer_distinct('<metadata key>'), "
        f"got {strategy!r}"
    )


def pending_chunks(using: str, queue: str, strategy: Strategy) -> QuerySet[SubmissionChunk]:
    """The pending chunks in the strategy's order (the caller takes the first it can lock)."""
    pending = SubmissionChunk.objects.using(using).filter(queue=queue, status=ChunkStatus.PENDING)
    if strategy == "newest":
        return pending.order_by("-id")
    if strategy == "random":
        bounds = pending.aggregate(low=Min("id"), high=Max("id"))
        if bounds["low"] is not None:
            pivot = random.randint(bounds["low"], bounds["high"])
            if pending.filter(id__gte=pivot).exists():
                return pending.filter(id__gte=pivot).order_by("id")
        return pending.order_by("id")
    if isinstance(strategy, PreferDistinct):
        submission_id = _least_recently_served(using, queue, strategy.metadata_key)
        if submission_id is not None:
            return pending.filter(submission_id=submission_id).order_by("id")
    return pending.order_by("id")


def _least_recently_served(using: str, queue: str, key: str) -> int | None:
    """The oldest running submission of the submitter served longest ago (never: first)."""
    running = (
        SubmissionRecord.objects.using(using)
        .filter(queue=queue, status=SubmissionStatus.RUNNING)
        .order_by("id")
        .values_list("id", "metadata", "last_reserved_at")
    )
    served: dict[str, Any] = {}  # submitter -> its latest reservation (None: never)
    first_of: dict[str, int] = {}  # submitter -> its oldest submission with pending chunks
    for submission_id, metadata, last_reserved_at in running:
        submitter = str((metadata or {}).get(key, ""))
        if last_reserved_at is not None and (
            served.get(submitter) is None or last_reserved_at > served[submitter]
        ):
            served[submitter] = last_reserved_at
        else:
            served.setdefault(submitter, None)
        if submitter not in first_of and _has_pending(using, submission_id):
            first_of[submitter] = submission_id
    if not first_of:
        return None
    never = [s for s in first_of if served[s] is None]
    if never:
        return first_of[min(never, key=lambda s: first_of[s])]
    return first_of[min(first_of, key=lambda s: served[s])]


def _has_pending(using: str, submission_id: int) -> bool:
    return (
        SubmissionChunk.objects.using(using)
        .filter(submission_id=submission_id, status=ChunkStatus.PENDING)
        .exists()
    )
