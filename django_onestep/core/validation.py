"""Checks for the numbers that options and settings take, worded one way everywhere.

Every check raises a ``ConfigurationError`` ``"<name>: must be ..., got <value>"``
and says one thing to fix: the type first (``must be a number``, ``must be an
integer``), then finiteness, then the bound (``must be > 0``, ``must be >= 1``). A
bool is never a number here: ``timeout_s=True`` is a mistake, not ``1``. ``name`` is
whatever locates the value for the reader (``"lease_s"``, ``'ONESTEP["LEASE_S"]'``,
``"tasks[0].concurrency"``).

The ``is_*`` predicates are for callers that raise their own error type (a stored
value that is not a number, an undecodable message).
"""

from __future__ import annotations

import math
from typing import TypeGuard

from django_onestep.core.errors import invalid_value

__all__ = [
    "finite_number",
    "int_between",
    "is_finite_number",
    "is_int",
    "is_number",
    "non_negative_int",
    "non_negative_number",
    "optional_non_negative_number",
    "optional_positive_int",
    "optional_positive_number",
    "positive_int",
    "positive_number",
]


def is_number(value: object) -> TypeGuard[int | float]:
    """An int or a float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: object) -> TypeGuard[int]:
    """An int, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: object) -> TypeGuard[int | float]:
    """A number that is neither NaN nor infinite (nor an int too large for a float)."""
    if not is_number(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _number(name: str, value: object, *, optional: bool) -> float:
    if not is_number(value):
        raise invalid_value(name, f"must be a number{' or None' if optional else ''}, got {value!r}")
    if not is_finite_number(value):
        raise invalid_value(name, f"must be a finite number, got {value!r}")
    return float(value)


def _int_at_least(name: str, value: object, minimum: int, *, optional: bool) -> int:
    if not is_int(value):
        raise invalid_value(name, f"must be an integer{' or None' if optional else ''}, got {value!r}")
    if value < minimum:
        raise invalid_value(name, f"must be >= {minimum}, got {value!r}")
    return value


def _bounded_number(name: str, value: object, *, zero_ok: bool, optional: bool) -> float:
    number = _number(name, value, optional=optional)
    if number < 0 or (number == 0 and not zero_ok):
        raise invalid_value(name, f"must be {'>= 0' if zero_ok else '> 0'}, got {value!r}")
    return number


def finite_number(name: str, value: object) -> float:
    return _number(name, value, optional=False)


def positive_number(name: str, value: object) -> float:
    return _bounded_number(name, value, zero_ok=False, optional=False)


def non_negative_number(name: str, value: object) -> float:
    return _bounded_number(name, value, zero_ok=True, optional=False)


def positive_int(name: str, value: object) -> int:
    return _int_at_least(name, value, 1, optional=False)


def non_negative_int(name: str, value: object) -> int:
    return _int_at_least(name, value, 0, optional=False)


def int_between(name: str, value: object, low: int, high: int) -> int:
    if not is_int(value):
        raise invalid_value(name, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise invalid_value(name, f"must be between {low} and {high}, got {value!r}")
    return value


def optional_positive_number(name: str, value: object) -> float | None:
    """None (e.g. a timeout that is off) or a finite number > 0."""
    return None if value is None else _bounded_number(name, value, zero_ok=False, optional=True)


def optional_non_negative_number(name: str, value: object) -> float | None:
    return None if value is None else _bounded_number(name, value, zero_ok=True, optional=True)


def optional_positive_int(name: str, value: object) -> int | None:
    return None if value is None else _int_at_least(name, value, 1, optional=True)
