"""The statements of a table queue: claim a batch, settle rows, extend leases.

Each function takes a MySQLdb connection and runs inside the connector's transaction.
Rows are locked with ``FOR UPDATE SKIP LOCKED``, so workers never wait on each other's
batches. Every claim writes a row of the claims table (``schema.CLAIMS_TABLE``) with a
fencing token and a lease end on the server's clock; settling a row first checks that
its claim still carries that token, so a worker whose lease ran out cannot settle a row
another worker has since claimed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django_onestep.connectors.mysql.identifiers import quote, quote_table
from django_onestep.connectors.mysql.schema import CLAIMS_TABLE

__all__ = ["RETRY_TOKEN", "ClaimedRow", "QueueSql"]

_CLAIMS = f"`{CLAIMS_TABLE}`"
# The token of a row retried without a ``nack`` mapping: it stays in its claim state,
# and the expired-lease path hands it out again once its delay is over.
RETRY_TOKEN = "retry"
_ATTEMPTS = "__onestep_attempts"


@dataclass(frozen=True)
class ClaimedRow:
    key: Any
    row: dict[str, Any]
    attempts: int


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _assignments(values: Mapping[str, Any]) -> tuple[str, list[Any]]:
    return ", ".join(f"{quote(column)} = %s" for column in values), list(values.values())


class QueueSql:
    """SQL for one table queue, built once from names already checked against the schema."""

    def __init__(
        self,
        *,
        table: str,
        key: str,
        where: tuple[str, tuple[Any, ...]],
        claim: Mapping[str, Any],
        ack: Mapping[str, Any],
        nack: Mapping[str, Any],
        fail: Mapping[str, Any],
        attempts_column: str | None,
    ) -> None:
        self.table_name = table
        self.table = quote_table(table)
        self.key = quote(key)
        self.where, self.where_params = where
        self.claim, self.ack, self.nack, self.fail = dict(claim), dict(ack), dict(nack), dict(fail)
        self.attempts_column = attempts_column
        claimed = [f"{quote(c)} IS NULL" if v is None else f"{quote(c)} = %s" for c, v in self.claim.items()]
        self._in_claim_state = " AND ".join(claimed)
        self._claim_state_params = [v for v in self.claim.values() if v is not None]

    def claim_batch(
        self, conn: Any, limit: int, token: str, lease_s: float, *, expired: bool = True
    ) -> list[ClaimedRow]:
        """Claim up to ``limit`` rows: with ``expired``, rows whose lease ran out first, then fresh ones."""
        import MySQLdb.cursors

        cursor = conn.cursor()
        keys = self._expired(cursor, limit) if expired else []
        if len(keys) < limit:
            cursor.execute(
                f"SELECT t.{self.key} FROM {self.table} t WHERE ({self.where}) AND NOT EXISTS ("
                f"SELECT 1 FROM {_CLAIMS} c WHERE c.table_name = %s AND c.row_key = CAST(t.{self.key} AS CHAR)"
                f" AND c.leased_until > NOW(6)) ORDER BY t.{self.key} LIMIT %s FOR UPDATE SKIP LOCKED",
                (*self.where_params, self.table_name, limit - len(keys)),
            )
            fresh = [row[0] for row in cursor.fetchall()]
            if fresh:
                sets, params = _assignments(self.claim)
                cursor.execute(
                    f"UPDATE {self.table} SET {sets} WHERE {self.key} IN ({_marks(fresh)})", (*params, *fresh)
                )
            keys += fresh
        if not keys:
            return []
        if self.attempts_column:
            column = quote(self.attempts_column)
            cursor.execute(
                f"UPDATE {self.table} SET {column} = COALESCE({column}, 0) + 1 WHERE {self.key} IN ({_marks(keys)})",
                keys,
            )
        # One multi-row statement (executemany would send one per row: the lease end is no plain %s).
        lease_us = int(lease_s * 1_000_000)
        cursor.execute(
            f"INSERT INTO {_CLAIMS} (table_name, row_key, token, leased_until, attempts) VALUES "
            + ", ".join(["(%s, %s, %s, NOW(6) + INTERVAL %s MICROSECOND, 1)"] * len(keys))
            + " ON DUPLICATE KEY UPDATE token = VALUES(token), leased_until = VALUES(leased_until),"
            " attempts = attempts + 1",
            [value for key in keys for value in (self.table_name, str(key), token, lease_us)],
        )
        # The rows and their claims' attempt counts in one round trip.
        dict_cursor = conn.cursor(MySQLdb.cursors.DictCursor)
        dict_cursor.execute(
            f"SELECT t.*, c.attempts AS {_ATTEMPTS} FROM {self.table} t JOIN {_CLAIMS} c"
            f" ON c.table_name = %s AND c.row_key = CAST(t.{self.key} AS CHAR)"
            f" WHERE t.{self.key} IN ({_marks(keys)}) ORDER BY t.{self.key}",
            (self.table_name, *keys),
        )
        key_name = self.key.strip("`")
        claimed = []
        for row in dict_cursor.fetchall():
            count = int(row.pop(_ATTEMPTS))
            if self.attempts_column:
                count = int(row.get(self.attempts_column) or count)
            claimed.append(ClaimedRow(row[key_name], dict(row), count))
        return claimed

    def _expired(self, cursor: Any, limit: int) -> list[Any]:
        """Rows still in their claim state whose lease ran out (a dead worker, a delayed retry)."""
        cursor.execute(
            f"SELECT row_key FROM {_CLAIMS} WHERE table_name = %s AND token IS NOT NULL"
            " AND leased_until < NOW(6) ORDER BY leased_until LIMIT %s FOR UPDATE SKIP LOCKED",
            (self.table_name, limit),
        )
        stale = [row[0] for row in cursor.fetchall()]
        if not stale:
            return []
        # Which are still in their claim state, read without locking: a row locked by a
        # worker settling it right now must not be taken for one that left the claim state.
        in_claim_state = f"SELECT {self.key} FROM {self.table} WHERE {self.key} IN ({_marks(stale)}) AND {self._in_claim_state}"
        cursor.execute(in_claim_state, (*stale, *self._claim_state_params))
        claimed = [str(row[0]) for row in cursor.fetchall()]
        gone = sorted(set(stale) - set(claimed))
        if gone:  # settled or changed by someone else since: stop looking at them
            cursor.execute(
                f"UPDATE {_CLAIMS} SET token = NULL WHERE table_name = %s AND row_key IN ({_marks(gone)})",
                (self.table_name, *gone),
            )
        if not claimed:
            return []
        cursor.execute(
            f"SELECT {self.key} FROM {self.table} WHERE {self.key} IN ({_marks(claimed)})"
            f" AND {self._in_claim_state} FOR UPDATE SKIP LOCKED",
            (*claimed, *self._claim_state_params),
        )
        return [row[0] for row in cursor.fetchall()]

    def _owned(self, cursor: Any, rows: Sequence[tuple[Any, str]]) -> list[Any]:
        """The keys of ``rows`` ((key, token) pairs) whose claim still carries the token; locked."""
        tokens = {str(key): token for key, token in rows}
        cursor.execute(
            f"SELECT row_key, token FROM {_CLAIMS} WHERE table_name = %s AND row_key IN ({_marks(rows)}) FOR UPDATE",
            (self.table_name, *tokens),
        )
        held = {row[0] for row in cursor.fetchall() if row[1] == tokens.get(row[0])}
        return [key for key, _ in rows if str(key) in held]

    def ack_rows(
        self, conn: Any, rows: Sequence[tuple[Any, str]], values: Mapping[str, Any] | None = None
    ) -> int:
        """Apply ``values`` (``complete``) then the ``ack`` mapping to owned rows; forget their claims."""
        cursor = conn.cursor()
        keys = self._owned(cursor, rows)
        if keys:
            for mapping in (values or {}, self.ack):
                if mapping:
                    sets, params = _assignments(mapping)
                    cursor.execute(
                        f"UPDATE {self.table} SET {sets} WHERE {self.key} IN ({_marks(keys)})",
                        (*params, *keys),
                    )
            self._forget(cursor, keys)
        return len(keys)

    def update_row(self, conn: Any, key: Any, token: str, values: Mapping[str, Any]) -> bool:
        cursor = conn.cursor()
        if not self._owned(cursor, [(key, token)]):
            return False
        sets, params = _assignments(values)
        cursor.execute(f"UPDATE {self.table} SET {sets} WHERE {self.key} = %s", (*params, key))
        return True

    def retry_row(self, conn: Any, key: Any, token: str, delay_s: float, *, count: bool = True) -> bool:
        """Hand the row out again after ``delay_s``; ``count=False`` takes its attempt back."""
        cursor = conn.cursor()
        if not self._owned(cursor, [(key, token)]):
            return False
        if self.nack:
            sets, params = _assignments(self.nack)
            cursor.execute(f"UPDATE {self.table} SET {sets} WHERE {self.key} = %s", (*params, key))
        cursor.execute(
            f"UPDATE {_CLAIMS} SET token = %s, leased_until = NOW(6) + INTERVAL %s MICROSECOND,"
            " attempts = attempts - %s WHERE table_name = %s AND row_key = %s",
            (
                None if self.nack else RETRY_TOKEN,
                int(delay_s * 1_000_000),
                0 if count else 1,
                self.table_name,
                str(key),
            ),
        )
        if not count and self.attempts_column:
            column = quote(self.attempts_column)
            cursor.execute(f"UPDATE {self.table} SET {column} = {column} - 1 WHERE {self.key} = %s", (key,))
        return True

    def fail_row(self, conn: Any, key: Any, token: str) -> bool:
        """Apply ``fail`` (without it the row stays in its claim state) and forget the claim."""
        cursor = conn.cursor()
        if not self._owned(cursor, [(key, token)]):
            return False
        if self.fail:
            sets, params = _assignments(self.fail)
            cursor.execute(f"UPDATE {self.table} SET {sets} WHERE {self.key} = %s", (*params, key))
        self._forget(cursor, [key])
        return True

    def extend_leases(self, conn: Any, tokens: Sequence[str], lease_s: float) -> None:
        if tokens:
            conn.cursor().execute(
                f"UPDATE {_CLAIMS} SET leased_until = NOW(6) + INTERVAL %s MICROSECOND"
                f" WHERE table_name = %s AND token IN ({_marks(tokens)})",
                (int(lease_s * 1_000_000), self.table_name, *tokens),
            )

    def _forget(self, cursor: Any, keys: Sequence[Any]) -> None:
        cursor.execute(
            f"DELETE FROM {_CLAIMS} WHERE table_name = %s AND row_key IN ({_marks(keys)})",
            (self.table_name, *[str(key) for key in keys]),
        )
