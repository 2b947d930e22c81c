"""Turn stream entries (as redis-py or our Lua scripts return them) into deliveries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_onestep.connectors.codec import UndecodableMessage, decode_message
from django_onestep.connectors.redis.delivery import RedisStreamDelivery
from django_onestep.core.envelope import Envelope

if TYPE_CHECKING:
    from django_onestep.connectors.redis.stream import RedisStream

__all__ = ["decode_entry", "entry_fields", "read_reply_entries", "text"]


def text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def entry_fields(raw: Any) -> dict[str, Any]:
    """Entry fields as {str: raw value}: redis-py gives a dict, Lua a flat list."""
    if isinstance(raw, dict):
        return {text(k): v for k, v in raw.items()}
    items = list(raw or ())
    return {text(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)}


def read_reply_entries(reply: Any) -> list[Any]:
    """XREADGROUP's entries for our one stream, for RESP2 (list) and RESP3 (dict) replies."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return [
            entry for entries in reply.values() for entry in (entries[0] if _nested(entries) else entries)
        ]
    return [entry for _stream, entries in reply for entry in entries]


def _nested(entries: Any) -> bool:
    # redis-py's RESP3 callback wraps the entry list once more: [[(id, fields), ...]]
    return bool(entries) and isinstance(entries[0], list | tuple) and isinstance(entries[0][0], list | tuple)


def decode_entry(
    stream: RedisStream, entry_id: str, fields: dict[str, Any], count: int, max_deliveries: int | None
) -> RedisStreamDelivery:
    """A delivery for one entry; ``poison_reason`` set when it must not run.

    ``count`` is the group's delivery count of the entry (1 the first time), added to the
    attempts the entry carries. A poison delivery's envelope describes what arrived (the
    raw body text, or the fields of a body-less entry) for the dead letter.
    """
    raw = fields.get("body")
    reason: str | None = None
    if raw is None:
        reason = f"entry has no 'body' field (fields: {sorted(fields)})"
        envelope = Envelope(body={k: text(v) for k, v in fields.items()})
    else:
        try:
            decoded = decode_message(raw)
        except UndecodableMessage as exc:
            reason = f"entry 'body' is undecodable: {exc.reason}"
            envelope = Envelope(body=text(raw))
        else:
            envelope = Envelope(decoded.body, decoded.meta, decoded.attempts + count - 1)
    if reason is not None:
        envelope.meta = {"redis_stream": stream.name, "redis_entry_id": entry_id}
        envelope.attempts = count - 1
    elif max_deliveries is not None and count > max_deliveries:
        reason = (
            f"entry {entry_id} was delivered {count} times without being settled "
            f"(max_deliveries={max_deliveries}): it keeps killing or stalling its worker"
        )
    delivery = RedisStreamDelivery(stream, entry_id, envelope, count)
    delivery.poison_reason = reason
    return delivery
