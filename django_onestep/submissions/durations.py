"""``--older-than`` values: ``30d``, ``12h``, ``15m``, ``90s`` or plain seconds."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["parse_age"]

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_age(text: str) -> timedelta:
    """The age ``text`` means; ValueError saying the accepted forms otherwise."""
    match = _AGE.match(text or "")
    if match is None:
        raise ValueError(f"{text!r} is not an age: use a number with s, m, h, d or w (e.g. 7d, 12h, 3600)")
    return timedelta(seconds=float(match.group(1)) * _UNITS_S[match.group(2) or "s"])
