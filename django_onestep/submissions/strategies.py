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
from datetime import datetime
from typing import Any

from django.db import connections

from django_onestep.core.errors import ConfigurationError
from django_onestep.models import SubmissionRecord, SubmissionStatus

__all__ = ["PreferDistinct", "Strategy", "candidate_ids", "prefer_distinct", "resolve_strategy"]

_NAMED = ("oldest", "newest", "random")
CHUNK_TABLE = "django_onestep_submissionchunk"  # SubmissionChunk's db_table


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


def candidate_ids(using: str, queue: str, strategy: Strategy, now: datetime, *, limit: int = 3) -> list[int]:
    """Up to ``limit`` pending chunk ids in the strategy's order, locked (SKIP LOCKED
    where the database has it) for the caller's transaction. A pending chunk whose
    ``reserved_until`` is still ahead waits out its retry delay (only those few rows
    are read and passed over)."""
    connection = connections[using]
    due = " AND (reserved_until IS NULL OR reserved_until <= %s)"
    now_db = connection.ops.adapt_datetimefield_value(now)
    table = connection.ops.quote_name(CHUNK_TABLE)
    features = connection.features
    lock = ""
    if features.has_select_for_update:
        lock = " FOR UPDATE SKIP LOCKED" if features.has_select_for_update_skip_locked else " FOR UPDATE"
    # MariaDB prefers a `ref` on (queue, status) and filters the id range row by row
    # (O(backlog)); the hint makes it seek the id range inside the index instead
    hint = " FORCE INDEX (onestep_chunk_reserve)" if connection.vendor == "mysql" else ""
    params: list[Any] = [queue]
    where = "queue = %s AND status = 'pending'"
    order = "id"
    if strategy == "newest":
        order = "id DESC"
    elif strategy == "random":
        pivot = _random_pending_id(connection, table, hint, where, params)
        if pivot is not None:
            ids = _select_ids(
                connection,
                table,
                hint,
                f"{where} AND id >= %s{due}",
                [*params, pivot, now_db],
                "id",
                limit,
                lock,
            )
            if ids:
                return ids
    elif isinstance(strategy, PreferDistinct):
        hint = " FORCE INDEX (onestep_chunk_fair)" if connection.vendor == "mysql" else ""
        for submission_id in _rotation(using, queue, strategy.metadata_key):
            where = f"submission_id = %s AND status = 'pending'{due}"
            ids = _select_ids(connection, table, hint, where, [submission_id, now_db], "id", limit, lock)
            if ids:
                return ids
        return []
    return _select_ids(connection, table, hint, f"{where}{due}", [*params, now_db], order, limit, lock)


def _select_ids(
    connection: Any, table: str, hint: str, where: str, params: list[Any], order: str, limit: int, lock: str
) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {table}{hint} WHERE {where} ORDER BY {order} LIMIT {int(limit)}{lock}", params
        )
        return [int(row[0]) for row in cursor.fetchall()]


def _random_pending_id(connection: Any, table: str, hint: str, where: str, params: list[Any]) -> int | None:
    """A random id between the lowest and highest pending ids (both ends of the index)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {table}{hint} WHERE {where}", params)
        low, high = cursor.fetchone()
    if low is None:
        return None
    return random.randint(int(low), int(high))


def _rotation(using: str, queue: str, key: str) -> list[int]:
    """Running submissions, the submitter served longest ago (or never) first, each
    submitter's oldest submission first."""
    running = (
        SubmissionRecord.objects.using(using)
        .filter(queue=queue, status=SubmissionStatus.RUNNING)
        .order_by("id")
        .values_list("id", "metadata", "last_reserved_at")
    )
    served: dict[str, Any] = {}  # submitter -> its latest reservation (None: never)
    submissions: dict[str, list[int]] = {}  # submitter -> its submissions, oldest first
    for submission_id, metadata, last_reserved_at in running:
        submitter = str((metadata or {}).get(key, ""))
        submissions.setdefault(submitter, []).append(submission_id)
        latest = served.get(submitter)
        if last_reserved_at is not None and (latest is None or last_reserved_at > latest):
            served[submitter] = last_reserved_at
        else:
            served.setdefault(submitter, None)
    # never served first (in order of their first submission), then the longest ago
    order = sorted(
        submissions,
        key=lambda s: (served[s] is not None, served[s] or submissions[s][0], submissions[s][0]),
    )
    return [submission_id for submitter in order for submission_id in submissions[submitter]]
