"""``DatabaseQueue(rate_limit="60/m")``: a sliding window of claims kept in the database.

One ``QueueFlow`` row per queue holds the recent claims as ``[[start_s, count], ...]``
(a claim within 1/50 of the window of the last one is added to that pair, moved to
the later time, which only makes the window stricter, so the row stays small
whatever the rate). The claim transaction locks that row first (``flow_claims.py``), drops the
pairs older than the window, claims at most the allowance left and appends its own
pair: every worker on every machine shares the one window. Jobs over the limit stay
``queued`` untouched. A claim is recorded when its UPDATE has run and holds its place
for the window plus a margin (5% of it, at most 0.25 s): its handlers start a few
milliseconds after the claim, and the margin keeps their start times, not only the
claims, within the limit. The times are the claiming worker's clock: keep the machines'
clocks in sync (NTP), as for leases.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = ["RateLimit", "allowance", "flow_table", "parse_rate_limit", "record_claims"]

_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0}
_PAIRS_PER_WINDOW = 50
_MARGIN_SHARE = 0.05
_MARGIN_MAX_S = 0.25
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*$")


@dataclass(frozen=True)
class RateLimit:
    max_runs: int
    window_s: float

    @property
    def held_s(self) -> float:
        """How long a claim counts: the window and the claim-to-start margin."""
        return self.window_s + min(_MARGIN_MAX_S, self.window_s * _MARGIN_SHARE)

    def __str__(self) -> str:
        return f"{self.max_runs}/{self.window_s:g}s"


def parse_rate_limit(option: str, value: Any) -> RateLimit | None:
    """``"60/m"``, ``"10/s"``, ``"100/h"`` or ``"20/10s"`` (20 runs per 10 s); None: off."""
    if value is None:
        return None
    match = _RATE.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ConfigurationError(
            f"{option}: must be like '60/m', '10/s', '100/h' or '20/10s' (runs per window), got {value!r}"
        )
    window_s = int(match.group(2) or 1) * _UNITS_S[match.group(3)]
    return RateLimit(max_runs=int(match.group(1)), window_s=window_s)


def flow_table(connection: Any) -> str:
    from django_onestep.models import QueueFlow

    return str(connection.ops.quote_name(QueueFlow._meta.db_table))


def allowance(connection: Any, queue: str, rate: RateLimit, now: datetime) -> tuple[int, list[list[float]]]:
    """The runs left in the window and the claims still inside it (the caller holds the
    queue's flow row lock)."""
    table = flow_table(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT claims FROM {table} WHERE queue = %s", [queue])
        row = cursor.fetchone()
    claims: list[list[float]] = json.loads(row[0]) if row and row[0] else []
    since = now.timestamp() - rate.held_s
    recent = [pair for pair in claims if pair[0] > since]
    used = sum(int(pair[1]) for pair in recent)
    return max(0, rate.max_runs - used), recent


def record_claims(
    connection: Any, queue: str, rate: RateLimit, recent: list[list[float]], count: int
) -> None:
    """Store the window with this claim added, timed now that its UPDATE has run (in
    the same transaction as the claim)."""
    if count:
        at = time.time()
        if recent and at - recent[-1][0] < rate.window_s / _PAIRS_PER_WINDOW:
            recent = [*recent[:-1], [at, recent[-1][1] + count]]
        else:
            recent = [*recent, [at, count]]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {flow_table(connection)} SET claims = %s WHERE queue = %s", [json.dumps(recent), queue]
        )
