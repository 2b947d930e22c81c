"""Table and column names, and ``where`` strings, checked before any statement is built.

Names are plain SQL identifiers (letters, digits, ``_``, ``$``; a ``schema.table`` for
tables) and always quoted with backticks; anything else is refused without touching the
server. A ``where`` string is the user's SQL, so it is refused when it holds what turns
a predicate into more statements or hides part of one: ``;``, comments, unbalanced
quotes. Its values belong in ``where_params`` (``%s`` placeholders).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = ["checked_name", "checked_table", "checked_values", "checked_where", "quote", "quote_table"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,63}\Z")
_VALUE_TYPES = (str, int, float, Decimal, bool, datetime, date, time, bytes, type(None))


def checked_name(owner: str, option: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigurationError(
            f"{owner} {option}: {value!r} is not a column name (letters, digits, _ and $, not starting with a digit)"
        )
    return value


def checked_table(owner: str, value: Any) -> str:
    parts = value.split(".") if isinstance(value, str) else [value]
    if len(parts) > 2 or not all(isinstance(part, str) and _NAME.match(part) for part in parts):
        raise ConfigurationError(
            f"{owner} table: {value!r} is not a table name (letters, digits, _ and $; optionally schema.table)"
        )
    return str(value)


def checked_values(owner: str, option: str, values: Any, *, required: bool) -> dict[str, Any]:
    """A column -> literal value mapping (``claim``, ``ack``...): names and value types checked."""
    if values is None and not required:
        return {}
    if not isinstance(values, Mapping) or (required and not values):
        raise ConfigurationError(
            f"{owner} {option}: must be a non-empty mapping of column to value, got {values!r}"
        )
    for column, value in values.items():
        checked_name(owner, f"{option} column", column)
        if not isinstance(value, _VALUE_TYPES):
            raise ConfigurationError(
                f"{owner} {option}[{column!r}]: must be a plain value (str, number, date, None), got {type(value).__name__}"
            )
    return dict(values)


def checked_where(owner: str, where: Any, params: Sequence[Any] | None) -> tuple[str, tuple[Any, ...]]:
    """``(sql, params)`` for a ``where`` string, or a mapping of column -> value (ANDed)."""
    if isinstance(where, Mapping):
        if params:
            raise ConfigurationError(f"{owner} where_params: only with a where string, not a mapping")
        values = checked_values(owner, "where", where, required=True)
        clauses = [f"{quote(c)} IS NULL" if v is None else f"{quote(c)} = %s" for c, v in values.items()]
        return " AND ".join(clauses), tuple(v for v in values.values() if v is not None)
    if not isinstance(where, str) or not where.strip():
        raise ConfigurationError(
            f"{owner} where: must be a non-empty SQL condition or a mapping, got {where!r}"
        )
    for token, why in ((";", "a ';'"), ("--", "a '--' comment"), ("#", "a '#' comment"), ("/*", "a comment")):
        if token in where:
            raise ConfigurationError(f"{owner} where: {where!r} holds {why}; put values in where_params")
    if "*/" in where or "\\" in where:
        raise ConfigurationError(f"{owner} where: {where!r} holds a comment end or a backslash")
    for quote_char in ("'", '"', "`"):
        if where.count(quote_char) % 2:
            raise ConfigurationError(f"{owner} where: {where!r} has an unbalanced {quote_char}")
    if params is None:
        return where.replace("%", "%%"), ()
    if isinstance(params, str | bytes) or not isinstance(params, Sequence):
        raise ConfigurationError(f"{owner} where_params: must be a list of values, got {params!r}")
    if where.count("%s") != len(params):
        raise ConfigurationError(
            f"{owner} where_params: {len(params)} value(s) for {where.count('%s')} %s placeholder(s) in {where!r}"
        )
    return where, tuple(params)


def quote(name: str) -> str:
    return f"`{name}`"


def quote_table(table: str) -> str:
    return ".".join(quote(part) for part in table.split("."))
