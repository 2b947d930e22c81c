"""Lossless JSON for stored state: datetimes, dates, times, decimals, UUIDs, bytes,
tuples and sets come back as the same type.

Special values are one-key objects with a ``$``-prefixed tag (``{"$dt": "..."}``). A
user dict that happens to look like a tag is wrapped in ``{"$esc": {...}}``, so every
dict round-trips. Keys must be strings (JSON would silently turn ``1`` into ``"1"``),
and NaN/infinity are refused (MariaDB's JSON rejects them).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads"]

_TAGS = frozenset({"$dt", "$date", "$time", "$td", "$dec", "$uuid", "$bytes", "$tuple", "$set", "$esc"})


def _encode(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{path}: NaN and infinity cannot be stored, got {value!r}")
        return value
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$td": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, list):
        return [_encode(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {"$tuple": [_encode(item, f"{path}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, set | frozenset):
        items = [_encode(item, f"{path}{{}}") for item in value]
        return {"$set": sorted(items, key=lambda item: json.dumps(item, sort_keys=True))}
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: dict keys must be strings, got {key!r}")
            out[key] = _encode(item, f"{path}.{key}")
        if len(out) == 1 and next(iter(out)) in _TAGS:
            return {"$esc": out}
        return out
    raise TypeError(f"{path}: values of type {type(value).__name__} cannot be stored as JSON")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        tag, raw = next(iter(value.items()))
        if tag == "$esc":
            return {key: _decode(item) for key, item in raw.items()}
        if tag == "$dt":
            return dt.datetime.fromisoformat(raw)
        if tag == "$date":
            return dt.date.fromisoformat(raw)
        if tag == "$time":
            return dt.time.fromisoformat(raw)
        if tag == "$td":
            return dt.timedelta(days=raw[0], seconds=raw[1], microseconds=raw[2])
        if tag == "$dec":
            return Decimal(raw)
        if tag == "$uuid":
            return uuid.UUID(raw)
        if tag == "$bytes":
            return base64.b64decode(raw)
        if tag == "$tuple":
            return tuple(_decode(item) for item in raw)
        if tag == "$set":
            return {_decode(item) for item in raw}
    return {key: _decode(item) for key, item in value.items()}


def dumps(value: Any) -> str:
    """Encode ``value`` losslessly; raises TypeError/ValueError naming the bad path."""
    return json.dumps(_encode(value, "value"), separators=(",", ":"), allow_nan=False)


def loads(text: str) -> Any:
    return _decode(json.loads(text))
