"""What the server says a table looks like, and the side table of claims and attempts.

Every name a source will put in a statement is compared with ``information_schema``
when the source opens (and in ``onestep_check``), so a typo is one line naming the
option and the column, not a SQL error the worker retries for ever.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = ["CLAIMS_TABLE", "check_columns", "column_type", "ensure_claims_table", "table_columns"]

# One row per claimed or retried row of a user table: who holds it until when, and
# how many times it was handed out (so MaxAttempts ends a row that always fails).
CLAIMS_TABLE = "onestep_table_claims"
_CLAIMS_DDL = f"""
CREATE TABLE IF NOT EXISTS `{CLAIMS_TABLE}` (
    `table_name` VARCHAR(128) NOT NULL,
    `row_key` VARCHAR(191) NOT NULL,
    `token` VARCHAR(40) NULL,
    `leased_until` DATETIME(6) NOT NULL,
    `attempts` INT NOT NULL DEFAULT 0,
    PRIMARY KEY (`table_name`, `row_key`),
    KEY `onestep_table_claims_lease` (`table_name`, `leased_until`)
) DEFAULT CHARSET=utf8mb4
"""


def table_columns(conn: Any, table: str) -> dict[str, str]:
    """Lower-cased column name -> its name as declared; {} when the table does not exist."""
    schema, _, name = table.rpartition(".")
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s",
            (schema or None, name),
        )
        return {str(row[0]).lower(): str(row[0]) for row in cursor.fetchall()}


def column_type(conn: Any, table: str, column: str) -> str:
    """The column's ``DATA_TYPE`` (``datetime``, ``bigint``...), lower-cased."""
    schema, _, name = table.rpartition(".")
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT DATA_TYPE FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND COLUMN_NAME = %s",
            (schema or None, name, column),
        )
        row = cursor.fetchone()
    return str(row[0]).lower() if row else ""


def check_columns(owner: str, table: str, columns: dict[str, str], used: Iterable[tuple[str, str]]) -> None:
    """Raise ConfigurationError for the first ``(option, column)`` the table lacks."""
    if not columns:
        raise ConfigurationError(f"{owner} table: {table!r} does not exist in the connector's database")
    for option, column in used:
        if column.lower() not in columns:
            raise ConfigurationError(
                f"{owner} {option}: column {column!r} is not in table {table!r} (columns: {', '.join(columns.values())})"
            )


def ensure_claims_table(conn: Any) -> None:
    with conn.cursor() as cursor:
        cursor.execute(_CLAIMS_DDL)
