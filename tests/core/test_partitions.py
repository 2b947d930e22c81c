"""Partitioned streams without Redis: the key hash, the assignment table, per-key order."""

from __future__ import annotations

import zlib

import pytest

from django_onestep.connectors.redis.partition_hash import key_bytes, partition_for
from django_onestep.connectors.redis.partition_leases import assigned_partitions
from django_onestep.connectors.redis.partition_state import HALTED, BufferedEntry, PartitionState
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError


@pytest.mark.parametrize(
    ("key", "partitions", "expected"),
    [
        ("user-1", 16, 4),
        ("user-2", 16, 14),
        ("user-2", 7, 3),
        (42, 16, 8),
        ("42", 16, 8),
        (0, 16, 1),
        (b"abc", 16, 2),
        ("é", 16, 14),
    ],
)
def test_known_keys_land_in_pinned_partitions(key: object, partitions: int, expected: int) -> None:
    # pinned: a change here moves every key of every deployed stream
    assert partition_for(key, partitions) == expected


def test_the_hash_is_plain_crc32_of_the_documented_bytes() -> None:
    # what the docs tell another language's producer to compute
    assert partition_for("order-981", 16) == zlib.crc32(b"order-981") % 16
    assert key_bytes(-7) == b"-7"
    assert key_bytes(10**20) == b"100000000000000000000"


@pytest.mark.parametrize("key", [None, True, 1.5, ("a", 1)])
def test_keys_without_a_stable_text_are_refused(key: object) -> None:
    with pytest.raises(ConfigurationError, match="partition key must be a str, int or bytes"):
        partition_for(key, 16)


def test_partitions_are_spread_round_robin_over_sorted_members() -> None:
    members = ["w-b", "w-a", "w-c"]
    tables = [assigned_partitions(members, worker, 16) for worker in sorted(members)]
    assert tables[0] == {0, 3, 6, 9, 12, 15}
    assert set().union(*tables) == set(range(16))
    assert sum(len(table) for table in tables) == 16
    assert assigned_partitions(members, "w-new", 16) == set()  # not a member yet: nothing


def entry(entry_id: str, key: str) -> BufferedEntry:
    return BufferedEntry(entry_id, Envelope(body={"key": key}), key.encode())


def test_a_key_waits_for_its_earlier_entry_while_other_keys_go_ahead() -> None:
    state = PartitionState(3, "w|1")
    a1, b1, a2, c1 = entry("1-0", "a"), entry("2-0", "b"), entry("3-0", "a"), entry("4-0", "c")
    state.add([a1, b1, a2, c1], "4-0")
    assert state.take_ready(10, now=0.0) == [a1, b1, c1]
    assert state.take_ready(10, now=0.0) == []  # a2 waits for a1
    state.remove(a1)
    assert state.take_ready(10, now=0.0) == [a2]


def test_a_retry_keeps_its_place_and_blocks_its_key_until_due() -> None:
    state = PartitionState(0, "w|1")
    a1, a2 = entry("1-0", "a"), entry("2-0", "a")
    state.add([a1, a2], "2-0")
    assert state.take_ready(10, now=0.0) == [a1]
    a1.in_flight, a1.due_at = False, 5.0  # retry in 5 s
    assert state.take_ready(10, now=1.0) == []
    assert state.take_ready(10, now=5.0) == [a1]


def test_a_halted_partition_hands_nothing_out() -> None:
    state = PartitionState(0, "w|1", mode=HALTED)
    state.add([entry("1-0", "a")], "1-0")
    assert state.take_ready(10, now=0.0) == []


def test_replay_moves_to_new_entries_after_an_empty_page() -> None:
    state = PartitionState(0, "w|1")
    state.add([entry("5-0", "a")], "5-0")
    assert state.cursor == "5-0"
    state.add([], None)
    assert state.cursor == ">"


def test_a_forked_child_is_a_member_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_onestep.connectors.redis import RedisConnector

    stream = RedisConnector("redis://localhost:6379/0").partitioned_stream("s", key=lambda p: p)
    parent = stream.worker_id
    assert stream.worker_id == parent  # stable within a process
    monkeypatch.setattr("os.getpid", lambda: 999_999)  # as in a child forked after import
    child = stream.worker_id
    assert child != parent and "-999999-" in child
    given = RedisConnector("redis://localhost:6379/0").partitioned_stream(
        "s", key=lambda p: p, worker_id="w-1"
    )
    assert given.worker_id == "w-1"
