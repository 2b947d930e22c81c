"""The Delivery base class's settle-once guard, shared by every transport."""

from __future__ import annotations

from django_onestep import Delivery, Envelope


class CountingDelivery(Delivery):
    def __init__(self) -> None:
        super().__init__(Envelope(body=1))
        self.acks = 0

    async def ack(self) -> None:
        if self.mark_settled():
            self.acks += 1

    async def retry(self, *, delay_s: float | None = None) -> None:
        self.mark_settled()

    async def fail(self, exc: Exception | None = None) -> None:
        self.mark_settled()


async def test_a_delivery_settles_once() -> None:
    delivery = CountingDelivery()
    assert delivery.is_settled is False
    await delivery.ack()
    await delivery.ack()
    await delivery.fail()
    assert (delivery.acks, delivery.is_settled) == (1, True)
    assert delivery.mark_settled() is False
