"""Which chunk each strategy reserves next."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone

from django_onestep import prefer_distinct, submit
from django_onestep.core.errors import ConfigurationError
from django_onestep.submissions.reserve import reserve_chunk
from tests.django.dbqueue_helpers import unique_name

pytestmark = pytest.mark.django_db(transaction=True)


def drain(queue: str, strategy: Any) -> list[tuple[int, int]]:
    """``(submission id, chunk index)`` of every reservation until none is left."""
    order = []
    while chunk := reserve_chunk(
        "default", queue, strategy, token=uuid.uuid4().hex, lease_s=30, now=timezone.now()
    ):
        order.append((chunk.submission_id, chunk.index))
    return order


def test_oldest_and_newest_take_the_ends_of_the_backlog() -> None:
    queue = unique_name("ends")
    first = submit(queue, range(6), chunk_size=2)
    second = submit(queue, range(4), chunk_size=2)
    everything = [(first.id, 0), (first.id, 1), (first.id, 2), (second.id, 0), (second.id, 1)]
    assert drain(queue, "oldest") == everything
    other = unique_name("ends")
    third = submit(other, range(6), chunk_size=2)
    assert drain(other, "newest") == [(third.id, 2), (third.id, 1), (third.id, 0)]


def test_random_reserves_every_chunk_once_in_no_fixed_order() -> None:
    queue = unique_name("random")
    submission = submit(queue, range(60), chunk_size=1)
    order = drain(queue, "random")
    assert sorted(order) == [(submission.id, index) for index in range(60)]
    assert order != sorted(order)


def test_prefer_distinct_takes_submitters_in_turn() -> None:
    queue = unique_name("fair")
    a1 = submit(queue, range(3), chunk_size=1, metadata={"tenant": "a"})
    a2 = submit(queue, range(3), chunk_size=1, metadata={"tenant": "a"})
    b = submit(queue, range(3), chunk_size=1, metadata={"tenant": "b"})
    c = submit(queue, range(2), chunk_size=1, metadata={"tenant": "c"})
    order = [submission_id for submission_id, _ in drain(queue, prefer_distinct("tenant"))]
    tenant = {a1.id: "a", a2.id: "a", b.id: "b", c.id: "c"}
    assert [tenant[s] for s in order] == list("abcabcabaaa")
    # within a submitter, its oldest submission first
    assert [s for s in order if tenant[s] == "a"] == [a1.id] * 3 + [a2.id] * 3


def test_prefer_distinct_needs_a_key() -> None:
    with pytest.raises(ConfigurationError, match="metadata_key"):
        prefer_distinct("")
