"""A paginator that stops counting: big tables show "10,000+" instead of a full count.

The admin's changelist counts its (filtered) rows on every page to number the pages;
over a million jobs that count costs more than the page. This one counts at most
``COUNT_CAP + 1`` rows (a ``LIMIT`` subquery), enough to page through the newest rows;
older ones are reached by filtering.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet

__all__ = ["COUNT_CAP", "CappedPaginator"]

COUNT_CAP = 10_000


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    @cached_property
    def count(self) -> int:
        first_rows: Any = self.object_list[: COUNT_CAP + 1]
        return int(first_rows.count()) if isinstance(first_rows, QuerySet) else len(first_rows)
