"""Retry policies described as data: onestep's YAML ``retry`` forms.

The one builder behind a YAML task's ``retry``, a task in ``ONESTEP["TASKS"]`` and
``ONESTEP["DEFAULT_RETRY"]``, so all three accept the same forms:

- ``None``: no policy (the task's default applies);
- a ``RetryPolicy`` object (anything with ``on_error``), used as it is;
- a type name: ``"none"`` / ``"no_retry"``, ``"max_attempts"``,
  ``"exponential_backoff"`` (with their default options);
- a mapping with ``type`` and that type's options, e.g. ``{"type": "max_attempts",
  "max_attempts": 3, "delay_s": 10}``; ``by_failure_kind`` takes ``default``,
  ``error``, ``timeout`` and ``cancelled``, each itself any of these forms (``None``
  leaves that kind out, as onestep does).

Every error is a ``ConfigurationError`` naming the path of the offending key, e.g.
``tasks[0].retry.error.max_attempts: must be >= 1, got 0``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_onestep.core import retry
from django_onestep.core.errors import ConfigurationError, invalid_value

__all__ = ["RETRY_OPTIONS", "build_retry_policy"]

_BY_FAILURE_KIND = ("default", "error", "timeout", "cancelled")

#: Retry type name -> its options, in the order of the policy's signature.
RETRY_OPTIONS: dict[str, tuple[str, ...]] = {
    "none": (),
    "no_retry": (),
    "max_attempts": ("max_attempts", "delay_s"),
    "exponential_backoff": ("max_attempts", "min_delay_s", "max_delay_s", "multiplier", "jitter"),
    "by_failure_kind": _BY_FAILURE_KIND,
}
_KNOWN = ", ".join(sorted(RETRY_OPTIONS))


def build_retry_policy(spec: object, path: str) -> retry.RetryPolicy | None:
    """The policy ``spec`` describes (None for None); ``path`` names it in errors."""
    if spec is None:
        return None
    if callable(getattr(spec, "on_error", None)):
        return spec  # type: ignore[return-value]
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping):
        raise invalid_value(
            path, f"must be a retry type name, a mapping with 'type' or a RetryPolicy, got {spec!r}"
        )
    kind = _kind(spec.get("type"), f"{path}.type")
    options = {key: value for key, value in spec.items() if key != "type"}
    _check_options(kind, options, path)
    if kind == "by_failure_kind":
        return _by_failure_kind(options, path)
    try:
        if kind == "max_attempts":
            return retry.MaxAttempts(**options)
        if kind == "exponential_backoff":
            return retry.ExponentialBackoff(**options)
        return retry.NoRetry()
    except ConfigurationError as exc:  # the policy names its own argument
        if exc.name in options and exc.problem is not None:
            raise invalid_value(f"{path}.{exc.name}", exc.problem) from None
        raise invalid_value(path, str(exc)) from None


def _kind(raw: object, path: str) -> str:
    if not isinstance(raw, str):
        problem = "is required" if raw is None else f"must be a retry type name, got {raw!r}"
        raise invalid_value(path, f"{problem} (known: {_KNOWN})")
    kind = raw.strip().lower().replace("-", "_")
    if kind not in RETRY_OPTIONS:
        raise invalid_value(path, f"unknown retry type {kind!r} (known: {_KNOWN})")
    return kind


def _check_options(kind: str, options: Mapping[Any, object], path: str) -> None:
    known = RETRY_OPTIONS[kind]
    unknown = sorted(str(key) for key in options if key not in known)
    if not unknown:
        return
    if not known:
        raise invalid_value(f"{path}.{unknown[0]}", f"type {kind!r} takes no options")
    raise invalid_value(
        f"{path}.{unknown[0]}", f"unknown option for type {kind!r} (known: {', '.join(known)})"
    )


def _by_failure_kind(options: Mapping[str, object], path: str) -> retry.RetryPolicy:
    policies = {}
    for key, value in options.items():
        policy = build_retry_policy(value, f"{path}.{key}")
        if policy is not None:
            policies[key] = policy
    if not policies:
        raise invalid_value(path, f"by_failure_kind needs a policy for one of {', '.join(_BY_FAILURE_KIND)}")
    return retry.ByFailureKind(**policies)
