"""Turn what XREADGROUP returned over several partition streams into buffered entries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_onestep.connectors.codec import UndecodableMessage, decode_message
from django_onestep.connectors.redis.entries import entry_fields, read_reply_entries, text
from django_onestep.connectors.redis.partition_hash import key_bytes
from django_onestep.connectors.redis.partition_state import BufferedEntry
from django_onestep.core.envelope import Envelope

__all__ = ["buffered_entry", "by_stream"]


def by_stream(reply: Any) -> list[tuple[str, list[Any]]]:
    """XREADGROUP's reply as (stream, entries), for RESP2 (list) and RESP3 (dict) replies."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return [(text(stream), read_reply_entries({stream: entries})) for stream, entries in reply.items()]
    return [(text(stream), list(entries)) for stream, entries in reply]


def buffered_entry(
    stream_name: str, key: Callable[[Any], Any], raw_id: Any, raw_fields: Any
) -> BufferedEntry | None:
    """The entry with its key; a poison one (undecodable, or unplaceable) keys on its id.

    None for an entry trimmed away while it was pending: nothing is left to process.
    """
    entry_id = text(raw_id)
    if raw_fields is None:
        return None
    fields = entry_fields(raw_fields)
    raw = fields.get("body")
    try:
        if raw is None:
            raise UndecodableMessage(f"entry has no 'body' field (fields: {sorted(fields)})")
        decoded = decode_message(raw)
    except UndecodableMessage as exc:
        body = text(raw) if raw is not None else {k: text(v) for k, v in fields.items()}
        envelope = Envelope(body=body, meta={"redis_stream": stream_name, "redis_entry_id": entry_id})
        return BufferedEntry(entry_id, envelope, entry_id.encode(), poison_reason=f"{exc}")
    envelope = Envelope(decoded.body, decoded.meta, decoded.attempts)
    try:
        placed = key_bytes(key(envelope.body))
    except Exception as exc:  # the key function cannot place it: it cannot run in order
        reason = f"partitioned_stream key function failed on this payload: {type(exc).__name__}: {exc}"
        return BufferedEntry(entry_id, envelope, entry_id.encode(), poison_reason=reason)
    return BufferedEntry(entry_id, envelope, placed)
