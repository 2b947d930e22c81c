"""Wire format shared by the broker connectors (Redis, RabbitMQ, SQS).

onestep 1.x writes every message as the JSON object ``{"body", "meta", "attempts"}``.
We write exactly that, so onestep workers and ours can share a queue in both directions.

Reading is stricter than onestep where onestep loses data silently:

* A JSON object is taken as an envelope only when its keys are a subset of
  ``body``/``meta``/``attempts`` and ``body`` is present. Any other JSON value (a foreign
  producer's ``{"order_id": 7}``, a list, a number) is the body itself, with ``meta={}``
  and ``attempts=0`` (the transport may know better, e.g. a delivery count). onestep
  would take ``{"body": 1, "to": "x"}`` as an envelope and drop ``to``; we keep it.
* Bytes that are not JSON (or not UTF-8) raise :class:`UndecodableMessage` with a reason,
  so the connector can dead-letter the item instead of running a handler on garbage.
  onestep hands such text to the handler as a string.
* An envelope-shaped object with a bad ``meta`` (not an object) or ``attempts`` (not a
  non-negative integer) raises too: that is a corrupted envelope, not a foreign body.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import OneStepError
from django_onestep.core.validation import is_int

__all__ = [
    "ENVELOPE_KEYS",
    "UndecodableMessage",
    "decode_body",
    "decode_message",
    "encode_envelope",
    "plain_envelopes",
]

ENVELOPE_KEYS = frozenset({"body", "meta", "attempts"})
_REASON_PREVIEW_CHARS = 80
_POISON_PREVIEW_BYTES = 200


class UndecodableMessage(OneStepError, ValueError):
    """Raw message bytes that cannot become an Envelope; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _json_default(value: Any) -> Any:
    # The few non-JSON types Django code returns all the time; anything else is an error
    # (onestep's ``default=str`` would silently store a repr nobody can read back).
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"message is not JSON-serialisable: object of type {type(value).__name__}")


def encode_envelope(envelope: Envelope) -> bytes:
    """Serialise ``envelope`` as onestep's ``{"body","meta","attempts"}`` UTF-8 JSON."""
    document = {"body": envelope.body, "meta": envelope.meta, "attempts": envelope.attempts}
    return json.dumps(
        document, default=_json_default, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")


def _preview(raw: bytes | str) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text if len(text) <= _REASON_PREVIEW_CHARS else text[:_REASON_PREVIEW_CHARS] + "..."


def decode_message(raw: bytes | bytearray | memoryview | str) -> Envelope:
    """Turn raw message data into an Envelope, or raise :class:`UndecodableMessage`."""
    data: bytes | str = bytes(raw) if isinstance(raw, bytearray | memoryview) else raw
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UndecodableMessage(
                f"message is not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
    else:
        text = data
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UndecodableMessage(f"message is not JSON ({exc.msg}): {_preview(text)!r}") from None
    if not (isinstance(parsed, dict) and "body" in parsed and parsed.keys() <= ENVELOPE_KEYS):
        return Envelope(body=parsed)
    meta = parsed.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        raise UndecodableMessage(f"envelope 'meta' must be a JSON object, got {type(meta).__name__}")
    attempts = parsed.get("attempts", 0)
    if attempts is None:
        attempts = 0
    if not is_int(attempts) or attempts < 0:
        raise UndecodableMessage(f"envelope 'attempts' must be a non-negative integer, got {attempts!r}")
    return Envelope(body=parsed["body"], meta=meta, attempts=attempts)


def decode_body(raw: bytes | str) -> tuple[Envelope, str | None]:
    """``(envelope, poison_reason)`` for a message body; never raises.

    The reason is None for a runnable message. For one that cannot become an envelope
    (empty, not UTF-8, not JSON, a corrupted envelope) the envelope carries the raw text
    (or a preview of undecodable bytes) so the dead letter shows what arrived.
    """
    if not raw.strip():
        body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        return Envelope(body=body), "empty message body"
    try:
        return decode_message(raw), None
    except UndecodableMessage as exc:
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw[:_POISON_PREVIEW_BYTES].decode("utf-8", errors="replace")
        else:
            text = raw
        return Envelope(body=text), exc.reason


def plain_envelopes(bodies: Iterable[Any], meta: Mapping[str, Any] | None) -> list[Envelope]:
    """Envelopes (attempts 0, a copy of ``meta`` each) for the sinks' ``publish_many``."""
    base = dict(meta or {})
    return [Envelope(body=body, meta=dict(base)) for body in bodies]
