"""Task arguments travel as JSON: a value that is not JSON fails at the call, by name."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["json_payload"]


def _check(where: str, label: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        hint = " (pass its primary key and load it in the task)" if hasattr(value, "_meta") else ""
        raise TypeError(
            f"{where}: {label} is a {type(value).__name__}, which does not travel as JSON{hint}: {exc}"
        ) from None


def json_payload(where: str, args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"args": [...], "kwargs": {...}}``, every value checked."""
    if args is not None and (isinstance(args, (str, bytes)) or not isinstance(args, Sequence)):
        raise TypeError(f"{where}: args must be a list or tuple, got {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"{where}: kwargs must be a dict, got {type(kwargs).__name__}")
    arg_list = list(args or ())
    kwarg_dict = dict(kwargs or {})
    for index, value in enumerate(arg_list):
        _check(where, f"argument {index}", value)
    for key, value in kwarg_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"{where}: keyword argument names must be strings, got {key!r}")
        _check(where, f"argument {key!r}", value)
    return {"args": arg_list, "kwargs": kwarg_dict}
