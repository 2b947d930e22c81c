"""The shared broker codec (``connectors/codec.py``) as the RabbitMQ and SQS deliveries use it.

``decode_body`` never raises: bytes that cannot become an envelope give a poison reason,
and the envelope then carries the raw text (or a preview of undecodable bytes) so the
dead letter shows what arrived.
"""

from __future__ import annotations

from django_onestep.core.envelope import Envelope

from .codec import UndecodableMessage, decode_message, encode_envelope

__all__ = ["decode_body", "encode_envelope"]

_PREVIEW_BYTES = 200


def decode_body(raw: bytes | str) -> tuple[Envelope, str | None]:
    """Return ``(envelope, poison_reason)``; the reason is None for a runnable message."""
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
                text = raw[:_PREVIEW_BYTES].decode("utf-8", errors="replace")
        else:
            text = raw
        return Envelope(body=text), exc.reason
