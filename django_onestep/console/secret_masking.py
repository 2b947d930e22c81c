"""Secrets never shown in the console: values under secret-looking keys are masked.

A webhook task's payload carries the request headers (``authorization``, ``cookie``,
signature headers...), and payloads and meta often carry tokens. Every page that shows
JSON masks the value of any key that looks secret, at any depth. The edit-and-replay
form shows the masked text too; on submit, each value still equal to the mask is put
back from the original, so a replay keeps the real secret without ever showing it.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MASK", "is_secret_key", "mask_secrets", "restore_masked"]

MASK = "***"
_SECRET_KEY = re.compile(
    r"(?i)(^|[-_.])(authorization|cookie|set-cookie|password|passwd|secret|token|api[-_]?key|"
    r"access[-_]?key|private[-_]?key|signature|credentials?|session)([-_.]|$)"
)


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` with every value under a secret-looking key replaced by ``MASK``."""
    if isinstance(value, dict):
        return {key: MASK if is_secret_key(key) else mask_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value


def restore_masked(edited: Any, original: Any) -> Any:
    """``edited`` with each ``MASK`` left under a secret key put back from ``original``."""
    if isinstance(edited, dict) and isinstance(original, dict):
        restored = {}
        for key, item in edited.items():
            if is_secret_key(key) and item == MASK and key in original:
                restored[key] = original[key]
            else:
                restored[key] = restore_masked(item, original.get(key))
        return restored
    if isinstance(edited, list) and isinstance(original, list):
        return [
            restore_masked(item, original[i] if i < len(original) else None) for i, item in enumerate(edited)
        ]
    return edited
