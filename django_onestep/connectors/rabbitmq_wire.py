"""onestep's JSON wire format, shared by the RabbitMQ and SQS connectors.

A message body is either onestep's envelope ``{"body": ..., "meta": {...}, "attempts": n}``
or any other JSON value from a foreign producer, which becomes the envelope body as is.
Bytes that are not UTF-8 JSON cannot run: ``decode_body`` returns a poison reason so the
runner dead-letters them instead of crashing or looping.

(Private to helper 4b's connectors until a shared ``connectors/codec.py`` exists.)
"""

from __future__ import annotations

import json
from typing import Any

from django_onestep.core.envelope import Envelope

__all__ = ["decode_body", "encode_envelope"]

_ENVELOPE_KEYS = frozenset({"body", "meta", "attempts"})
_PREVIEW_CHARS = 200


def encode_envelope(envelope: Envelope) -> bytes:
    """Serialise an envelope in onestep's format (non-JSON values become strings, as there)."""
    document = {"body": envelope.body, "meta": envelope.meta, "attempts": envelope.attempts}
    return json.dumps(document, default=str, separators=(",", ":")).encode("utf-8")


def decode_body(raw: bytes | str) -> tuple[Envelope, str | None]:
    """Return ``(envelope, poison_reason)``; the reason is None for a runnable message.

    A poison envelope carries the raw text (or a preview of undecodable bytes) as its body
    so the dead letter shows what arrived.
    """
    if isinstance(raw, bytes):
        if not raw:
            return Envelope(body=""), "empty message body"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            preview = raw[:_PREVIEW_CHARS].decode("utf-8", errors="replace")
            return Envelope(body=preview), "message body is not UTF-8 text"
    else:
        text = raw
    if not text.strip():
        return Envelope(body=text), "empty message body"
    try:
        parsed: Any = json.loads(text)
    except ValueError as exc:
        return Envelope(body=text), f"message body is not JSON: {exc}"
    # Only a mapping made of onestep's keys is an envelope: a foreign payload that merely
    # has a "body" key next to others ({"body": ..., "subject": ...}) stays whole.
    if isinstance(parsed, dict) and "body" in parsed and set(parsed) <= _ENVELOPE_KEYS:
        meta = parsed.get("meta")
        attempts = parsed.get("attempts")
        return (
            Envelope(
                body=parsed["body"],
                meta=dict(meta) if isinstance(meta, dict) else {},
                attempts=attempts if type(attempts) is int and attempts >= 0 else 0,
            ),
            None,
        )
    return Envelope(body=parsed), None
