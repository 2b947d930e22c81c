"""The value checks every option and setting goes through: one wording, one rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from django_onestep.core import validation
from django_onestep.core.errors import ConfigurationError

PACKAGE = Path(__file__).resolve().parents[2] / "django_onestep"


@pytest.mark.parametrize(
    ("check", "value", "expected"),
    [
        (validation.finite_number, -2, -2.0),
        (validation.finite_number, 0, 0.0),
        (validation.positive_number, 1, 1.0),
        (validation.positive_number, 0.5, 0.5),
        (validation.non_negative_number, 0, 0.0),
        (validation.positive_int, 1, 1),
        (validation.non_negative_int, 0, 0),
        (validation.optional_positive_number, None, None),
        (validation.optional_positive_number, 2, 2.0),
        (validation.optional_non_negative_number, None, None),
        (validation.optional_non_negative_number, 0, 0.0),
        (validation.optional_positive_int, None, None),
        (validation.optional_positive_int, 3, 3),
    ],
)
def test_accepted_values_come_back_typed(check, value, expected) -> None:
    result = check("x", value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        # the type first: a bool is never a number, a float never an integer
        (validation.positive_number, True, "must be a number, got True"),
        (validation.positive_number, "5", "must be a number, got '5'"),
        (validation.positive_number, None, "must be a number, got None"),
        (validation.positive_int, 1.0, "must be an integer, got 1.0"),
        (validation.positive_int, False, "must be an integer, got False"),
        (validation.non_negative_int, "0", "must be an integer, got '0'"),
        # then finiteness
        (validation.finite_number, float("nan"), "must be a finite number, got nan"),
        (validation.positive_number, float("inf"), "must be a finite number, got inf"),
        (validation.non_negative_number, float("-inf"), "must be a finite number, got -inf"),
        (validation.positive_number, 10**400, f"must be a finite number, got {10**400!r}"),
        # then the bound
        (validation.positive_number, 0, "must be > 0, got 0"),
        (validation.positive_number, -0.5, "must be > 0, got -0.5"),
        (validation.non_negative_number, -1, "must be >= 0, got -1"),
        (validation.positive_int, 0, "must be >= 1, got 0"),
        (validation.non_negative_int, -1, "must be >= 0, got -1"),
        # optional values say that None is allowed
        (validation.optional_positive_number, "x", "must be a number or None, got 'x'"),
        (validation.optional_positive_number, 0, "must be > 0, got 0"),
        (validation.optional_non_negative_number, -1, "must be >= 0, got -1"),
        (validation.optional_positive_int, 2.5, "must be an integer or None, got 2.5"),
        (validation.optional_positive_int, 0, "must be >= 1, got 0"),
    ],
)
def test_errors_name_the_value_and_say_one_thing_to_fix(check, value, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        check("queue lease_s", value)
    assert str(info.value) == f"queue lease_s: {message}"
    assert (info.value.name, info.value.problem) == ("queue lease_s", message)
    assert isinstance(info.value, ValueError)  # callers that catch ValueError keep working


def test_int_between() -> None:
    assert validation.int_between("port", 0, 0, 65535) == 0
    assert validation.int_between("port", 65535, 0, 65535) == 65535
    with pytest.raises(ConfigurationError, match=r"^port: must be between 0 and 65535, got 65536$"):
        validation.int_between("port", 65536, 0, 65535)
    with pytest.raises(ConfigurationError, match=r"^port: must be an integer, got True$"):
        validation.int_between("port", True, 0, 65535)


def test_predicates() -> None:
    assert validation.is_number(1) and validation.is_number(1.5) and validation.is_number(float("nan"))
    assert not validation.is_number(True) and not validation.is_number("1")
    assert validation.is_int(3) and not validation.is_int(3.0) and not validation.is_int(False)
    assert validation.is_finite_number(2) and validation.is_finite_number(-2.5)
    assert not validation.is_finite_number(float("inf")) and not validation.is_finite_number(10**400)
    assert not validation.is_finite_number(True)


def test_a_constructor_error_can_be_renamed_by_who_knows_the_path() -> None:
    """What YAML, settings and the retry builder rely on to prefix their own path."""
    from django_onestep import MemoryQueue

    with pytest.raises(ConfigurationError) as info:
        MemoryQueue("q", batch_size=0)
    assert (info.value.name, info.value.problem) == ("batch_size", "must be >= 1, got 0")
    plain = ConfigurationError("something else")
    assert (plain.name, plain.problem) == (None, None)


# The hand-written number check this module replaces, in either order and over several
# lines; each copy drifted in wording and in what it let through (True, NaN).
_COPY = re.compile(
    r"isinstance\((\w+), bool\)\s*or\s+not isinstance\(\1, (int|float)"
    r"|not isinstance\((\w+), (int|float)[^)]*\)\s*or\s+isinstance\(\3, bool\)"
)


def test_the_package_has_no_other_copy_of_the_number_check() -> None:
    copies = [
        f"{path.relative_to(PACKAGE.parent)}: {match.group(0)!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "validation.py"
        for match in _COPY.finditer(path.read_text())
    ]
    assert copies == []
