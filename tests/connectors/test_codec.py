"""The broker wire format: onestep's {"body","meta","attempts"} JSON, foreign JSON as body."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import pytest

from django_onestep.connectors.codec import (
    UndecodableMessage,
    decode_body,
    decode_message,
    encode_envelope,
    plain_envelopes,
)
from django_onestep.core.envelope import Envelope


def test_encode_is_onestep_envelope_json() -> None:
    raw = encode_envelope(Envelope({"id": 7, "name": "é"}, {"trace": "t1"}, 2))
    assert json.loads(raw) == {"body": {"id": 7, "name": "é"}, "meta": {"trace": "t1"}, "attempts": 2}
    assert "é".encode() in raw  # UTF-8, not \u escapes


def test_round_trip() -> None:
    envelope = Envelope(["a", 1, None, True], {"k": [1, 2]}, 5)
    assert decode_message(encode_envelope(envelope)) == envelope


def test_onestep_encoded_message_decodes() -> None:
    from onestep.connectors.codec import encode_envelope as onestep_encode
    from onestep.envelope import Envelope as OnestepEnvelope

    raw = onestep_encode(OnestepEnvelope(body={"x": 1}, meta={"m": 2}, attempts=3))
    assert decode_message(raw) == Envelope({"x": 1}, {"m": 2}, 3)


def test_our_message_decodes_in_onestep() -> None:
    from onestep.connectors.codec import decode_envelope as onestep_decode

    decoded = onestep_decode(encode_envelope(Envelope({"x": 1}, {"m": 2}, 3)))
    assert (decoded.body, decoded.meta, decoded.attempts) == ({"x": 1}, {"m": 2}, 3)


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        (b'{"order_id": 7}', {"order_id": 7}),
        ('{"body": 1, "to": "x"}', {"body": 1, "to": "x"}),  # extra key: a foreign object, kept whole
        (b"[1, 2]", [1, 2]),
        (b"42", 42),
        (b'"text"', "text"),
        (b"null", None),
    ],
)
def test_foreign_json_is_the_body(raw: bytes | str, body: object) -> None:
    assert decode_message(raw) == Envelope(body, {}, 0)


def test_envelope_with_only_body() -> None:
    assert decode_message(b'{"body": {"a": 1}}') == Envelope({"a": 1}, {}, 0)
    assert decode_message(b'{"body": 1, "meta": null, "attempts": null}') == Envelope(1, {}, 0)


def test_memoryview_and_bytearray() -> None:
    assert decode_message(bytearray(b'{"a": 1}')).body == {"a": 1}
    assert decode_message(memoryview(b'{"a": 2}')).body == {"a": 2}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "message is not JSON (Expecting value): 'not json'"),
        (b"\xff\xfe", "message is not UTF-8 text (invalid start byte at byte 0)"),
        (b"", "message is not JSON (Expecting value): ''"),
        (b'{"body": 1, "meta": [1]}', "envelope 'meta' must be a JSON object, got list"),
        (b'{"body": 1, "attempts": -1}', "envelope 'attempts' must be a non-negative integer, got -1"),
        (b'{"body": 1, "attempts": "2"}', "envelope 'attempts' must be a non-negative integer, got '2'"),
        (b'{"body": 1, "attempts": true}', "envelope 'attempts' must be a non-negative integer, got True"),
    ],
)
def test_undecodable(raw: bytes, reason: str) -> None:
    with pytest.raises(UndecodableMessage) as info:
        decode_message(raw)
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)


def test_long_garbage_is_previewed_not_dumped() -> None:
    with pytest.raises(UndecodableMessage) as info:
        decode_message(b"x" * 1000)
    assert info.value.reason == f"message is not JSON (Expecting value): {'x' * 80 + '...'!r}"


def test_common_python_types_are_encoded() -> None:
    body = {
        "at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "day": dt.date(2026, 1, 2),
        "amount": decimal.Decimal("1.10"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "tags": {"b", "a"},
    }
    assert json.loads(encode_envelope(Envelope(body))) == {
        "body": {
            "at": "2026-01-02T03:04:05+00:00",
            "day": "2026-01-02",
            "amount": "1.10",
            "id": "12345678-1234-5678-1234-567812345678",
            "tags": ["a", "b"],
        },
        "meta": {},
        "attempts": 0,
    }


def test_unserialisable_body_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="message is not JSON-serialisable: object of type object"):
        encode_envelope(Envelope({"x": object()}))
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        encode_envelope(Envelope(float("nan")))


@pytest.mark.parametrize(
    ("raw", "body", "reason"),
    [
        (b"", "", "empty message body"),
        ("  \n", "  \n", "empty message body"),
        (b"not json", "not json", "message is not JSON (Expecting value): 'not json'"),
        (b"\xff" * 300, "\ufffd" * 200, "message is not UTF-8 text (invalid start byte at byte 0)"),
        (
            b'{"body": 1, "meta": [1]}',
            '{"body": 1, "meta": [1]}',
            "envelope 'meta' must be a JSON object, got list",
        ),
    ],
)
def test_decode_body_turns_poison_into_a_reason_and_keeps_what_arrived(
    raw: bytes | str, body: str, reason: str
) -> None:
    envelope, poison_reason = decode_body(raw)
    assert (envelope.body, envelope.meta, envelope.attempts, poison_reason) == (body, {}, 0, reason)


def test_decode_body_of_a_good_message_has_no_reason() -> None:
    assert decode_body(b'{"body": {"a": 1}, "meta": {"m": 1}, "attempts": 2}') == (
        Envelope({"a": 1}, {"m": 1}, 2),
        None,
    )
    assert decode_body('{"order_id": 7}') == (Envelope({"order_id": 7}, {}, 0), None)


def test_plain_envelopes_copy_meta_per_message() -> None:
    meta = {"source": "import"}
    first, second = plain_envelopes(iter([{"id": 1}, {"id": 2}]), meta)
    assert (first, second) == (Envelope({"id": 1}, meta, 0), Envelope({"id": 2}, meta, 0))
    first.meta["changed"] = True  # one message's meta never leaks into another's
    assert (second.meta, meta) == ({"source": "import"}, {"source": "import"})
    assert plain_envelopes([1], None) == [Envelope(1, {}, 0)]
