"""Live job events through channels-redis on the real Redis (the in-memory run is in
tests/django/test_live.py)."""

from __future__ import annotations

import pytest

from tests.django.live_helpers import redis_layers
from tests.django.test_live import watch_job_events
from tests.needs import require_module

require_module("channels_redis")

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_a_subscriber_gets_status_progress_and_result_over_redis(redis_url: str) -> None:
    await watch_job_events(redis_layers(redis_url))
