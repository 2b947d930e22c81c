"""``ModelQueue`` on models whose primary key is a UUID or text, on every database of the run."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import models
from django.db.models import Q

from django_onestep.core.errors import ConfigurationError
from django_onestep.model_sources import ModelQueue
from django_onestep.model_sources.row_keys import RowKeys
from django_onestep.models import RowClaim
from testproject.testapp.models import Ticket, Voucher

pytestmark = pytest.mark.django_db(transaction=True)

KEYED_MODELS = [Ticket, Voucher]


def make_rows(model: Any, count: int) -> None:
    if model is Ticket:
        Ticket.objects.bulk_create([Ticket(id=uuid.uuid4()) for _ in range(count)])
    else:
        Voucher.objects.bulk_create([Voucher(code=f"code-{i:03d}/é") for i in range(count)])


def states(model: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in model.objects.values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts


def queue(model: Any, **options: Any) -> ModelQueue:
    return ModelQueue(model, Q(state="new"), {"state": "processing"}, {"state": "done"}, **options)


@pytest.mark.parametrize("model", KEYED_MODELS, ids=lambda m: m.__name__)
async def test_two_queues_claim_disjoint_rows_and_a_claimed_row_is_not_claimed_again(model: Any) -> None:
    await asyncio.to_thread(make_rows, model, 5)
    first, second = queue(model), queue(model)
    await first.open()
    await second.open()
    try:
        got = await first.fetch(3)
        other = await second.fetch(10)
        assert len(got) == 3 and len(other) == 2
        pk = model._meta.pk.attname
        assert {d.payload[pk] for d in got}.isdisjoint(d.payload[pk] for d in other)
        assert await second.fetch(10) == []  # the live claims exclude every row
        await asyncio.gather(*(d.ack() for d in [*got, *other]))
        assert await asyncio.to_thread(states, model) == {"done": 5}
        assert await asyncio.to_thread(RowClaim.objects.count) == 0
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("model", KEYED_MODELS, ids=lambda m: m.__name__)
async def test_an_expired_claim_comes_back_and_its_late_ack_is_fenced(model: Any) -> None:
    await asyncio.to_thread(make_rows, model, 1)
    dead, alive = queue(model, lease_s=1), queue(model, lease_s=1)
    await dead.open()
    await alive.open()
    try:
        (held,) = await dead.fetch(1)
        await dead.close()
        await asyncio.sleep(1.1)
        (back,) = await alive.fetch(1)
        assert back.envelope.attempts == 1
        assert back.payload == held.payload
        await dead.open()
        await held.ack()  # its token no longer holds the row
        await dead.close()
        assert await asyncio.to_thread(states, model) == {"processing": 1}
        await back.ack()
        assert await asyncio.to_thread(states, model) == {"done": 1}
    finally:
        await alive.close()


def test_uuid_keys_are_kept_as_32_hex_digits_and_read_back() -> None:
    keys = RowKeys("ModelQueue(Ticket)", Ticket)
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert keys.text(key) == "12345678123456781234567812345678"
    assert keys.pk(keys.text(key)) == key


def fake_model(field: models.Field[Any, Any], name: str) -> Any:
    field.set_attributes_from_name(name)
    return SimpleNamespace(_meta=SimpleNamespace(pk=field))


def test_a_primary_key_kind_without_a_text_form_is_refused_with_the_kinds_that_work() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"ModelQueue\(Day\): the primary key 'day' is a DateField; ModelQueue supports integer, "
        r"UUID, CharField and SlugField primary keys",
    ):
        RowKeys("ModelQueue(Day)", fake_model(models.DateField(primary_key=True), "day"))


def test_a_text_key_longer_than_a_claim_can_hold_is_refused() -> None:
    with pytest.raises(
        ConfigurationError, match=r"'slug' allows 255 characters; ModelQueue keeps keys of at most 191"
    ):
        RowKeys("ModelQueue(Page)", fake_model(models.CharField(max_length=255, primary_key=True), "slug"))
