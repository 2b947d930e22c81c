"""Which cron text we accept, checked field by field before croniter reads it.

croniter computes the fire times, but it reads more than onestep 1.x does and reads a
few spellings differently, so every field passes this gate first:

* onestep's syntax: 5 fields ``minute hour day-of-month month day-of-week``, ``*``,
  lists, ranges, steps (``*/5``, ``1-30/2``, ``5/15``), month and weekday names, ``0``
  and ``7`` for Sunday, the aliases ``@hourly @daily @weekly @monthly @yearly`` (plus
  ``@annually`` and ``@midnight``).
* Rewritten for croniter, which reads them another way: ``5-5`` is minute 5 (croniter:
  every minute) and ``sun-sat`` style ranges never wrap (``5-1`` runs backwards and is
  refused; croniter would wrap it around the end of the field).
* Extensions croniter implements that a Django user expects: ``L`` (last day of the
  month) and ``15W`` (weekday nearest the 15th) in day-of-month, ``5#2`` (second
  Friday) and ``5L`` (last Friday) in day-of-week, and a weekday range may end at
  ``7`` (``mon-7``: Monday to Sunday).
* Refused, with one line naming the field: a seconds or year field (6 or 7 fields),
  ``@reboot``, ``?``, croniter's hashed/random ``H``/``R`` values.

Each error is a :class:`ConfigurationError` (a ``ValueError``) reading
``invalid cron expression '<text>': <reason>``; the runtime and the system check both
report it, so they agree word for word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django_onestep.core.errors import ConfigurationError

__all__ = ["CRON_ALIASES", "FIELD_NAMES", "CronText", "check_cron_text"]

MONTH_NAMES = {
    name: index
    for index, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
DOW_NAMES = {name: index for index, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_FIELDS_HINT = "minute hour day-of-month month day-of-week"
_DAY_OF_MONTH, _DAY_OF_WEEK = 2, 4
_SUNDAY_TOO = 7  # a second spelling of Sunday in day-of-week

_NEAREST_WEEKDAY = re.compile(r"^([0-9]+)w$", re.IGNORECASE)
_NTH_WEEKDAY = re.compile(r"^([a-z0-9]+)#([0-9]+)$", re.IGNORECASE)
_LAST_WEEKDAY = re.compile(r"^([a-z0-9]+)l$", re.IGNORECASE)


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_SPECS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, MONTH_NAMES),
    _Field("day-of-week", 0, 7, DOW_NAMES),
)


@dataclass(frozen=True)
class CronText:
    """An accepted expression: as written (aliases expanded) and as croniter reads it.

    ``day_of_month_any``/``day_of_week_any`` are onestep's test for the day OR rule:
    the field is literally ``*``.
    """

    expression: str
    fields: tuple[str, str, str, str, str]
    day_of_month_any: bool
    day_of_week_any: bool


def check_cron_text(expression: object) -> CronText:
    """The accepted form of ``expression``, or ConfigurationError saying what to fix."""
    if not isinstance(expression, str) or not expression.strip():
        raise ConfigurationError(
            f"invalid cron expression {expression!r}: it must be a non-empty string such as '*/5 * * * *'"
        )
    stripped = expression.strip()
    normalized = CRON_ALIASES.get(stripped.lower(), stripped)
    try:
        fields = _check_fields(normalized)
    except ConfigurationError as exc:  # a reason, without the expression: added here, once
        raise ConfigurationError(f"invalid cron expression {expression!r}: {exc}") from None
    parts = normalized.split()
    return CronText(
        expression=normalized,
        fields=fields,
        day_of_month_any=parts[_DAY_OF_MONTH] == "*",
        day_of_week_any=parts[_DAY_OF_WEEK] == "*",
    )


def _check_fields(normalized: str) -> tuple[str, str, str, str, str]:
    if normalized.lower() == "@reboot":
        raise ConfigurationError("@reboot is not supported (a worker has no boot event): use immediate=True")
    if normalized.startswith("@"):
        raise ConfigurationError(f"unknown alias (known: {', '.join(sorted(CRON_ALIASES))})")
    parts = normalized.split()
    if len(parts) != len(_SPECS):
        extra = "; seconds and year fields are not supported" if len(parts) in (6, 7) else ""
        raise ConfigurationError(f"expected 5 fields ({_FIELDS_HINT}), got {len(parts)}{extra}")
    minute, hour, day_of_month, month, day_of_week = (
        _check_field(text, spec) for text, spec in zip(parts, _SPECS, strict=True)
    )
    return minute, hour, day_of_month, month, day_of_week


def _check_field(text: str, spec: _Field) -> str:
    items = [_check_item(item, spec) for item in text.split(",")]
    if spec.name == "day-of-month" and len(items) > 1:
        lone = next((item for item in items if item.endswith("w")), None)
        if lone is not None:
            raise ConfigurationError(f"day-of-month {lone.upper()!r} must be the field's only item")
    if spec.name == "day-of-week" and len(items) > 1:
        special = ["#" in item or item.startswith("l") for item in items]
        if any(special) and not all(special):
            raise ConfigurationError(f"day-of-week {text!r} mixes '#'/'L' items with plain weekdays")
    return ",".join(items)


def _check_item(item: str, spec: _Field) -> str:
    """One list item in croniter's spelling (names resolved to numbers)."""
    if not item:
        raise ConfigurationError(f"{spec.name} has an empty list item")
    if item == "?":
        raise ConfigurationError(f"{spec.name} '?' is not supported: write '*'")
    special = _special_item(item, spec)
    if special is not None:
        return special
    base, slash, step_text = item.partition("/")
    step = ""
    if slash:
        if not step_text.isascii() or not step_text.isdigit() or int(step_text) < 1:
            raise ConfigurationError(f"{spec.name} step {step_text!r} must be a positive integer")
        step = f"/{int(step_text)}"
    if base == "*":
        return f"*{step}"
    if "-" not in base:
        value = _value(base, spec)
        if spec.name == "day-of-week" and value == _SUNDAY_TOO:
            value = 0
        return f"{value}{step}"
    start_text, _, end_text = base.partition("-")
    start, end = _value(start_text, spec), _value(end_text, spec)
    if spec.name == "day-of-week" and start == _SUNDAY_TOO:
        start = 0  # as onestep: 7-2 is Sunday to Tuesday, 7-7 and 7-0 are Sunday
        end %= _SUNDAY_TOO
    if start == end:  # croniter reads an equal range as the whole field
        return str(start)
    if start > end:
        raise ConfigurationError(f"{spec.name} range {base!r} runs backwards")
    return f"{start}-{end}{step}"


def _special_item(item: str, spec: _Field) -> str | None:
    """``L``/``15W`` in day-of-month, ``5#2``/``5L`` in day-of-week; None for others."""
    if spec.name == "day-of-month":
        if item.lower() == "l":
            return "l"
        nearest = _NEAREST_WEEKDAY.match(item)
        if nearest:
            return f"{_value(nearest.group(1), spec)}w"
    if spec.name == "day-of-week":
        nth = _NTH_WEEKDAY.match(item)
        if nth:
            weekday = _value(nth.group(1), spec) % _SUNDAY_TOO
            if not nth.group(2).isascii() or not 1 <= int(nth.group(2)) <= 5:
                raise ConfigurationError(f"day-of-week {item!r}: the week after '#' must be 1-5")
            return f"{weekday}#{int(nth.group(2))}"
        last = _LAST_WEEKDAY.match(item)
        if last:
            return f"l{_value(last.group(1), spec) % _SUNDAY_TOO}"
    return None


def _value(text: str, spec: _Field) -> int:
    if text.lower() in spec.names:
        return spec.names[text.lower()]
    if not text.isascii() or not text.isdigit():
        raise ConfigurationError(f"{spec.name} value {text!r} is not a number or a known name")
    value = int(text)
    if value < spec.low or value > spec.high:
        raise ConfigurationError(f"{spec.name} value {text!r} is outside {spec.low}-{spec.high}")
    return value
