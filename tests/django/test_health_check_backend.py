"""The django-health-check check reports what ``health/`` reports."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test.utils import override_settings
from django.utils import timezone

from django_onestep.models import WorkerHeartbeat
from tests.needs import require_module

require_module("health_check")
from health_check.exceptions import ServiceUnavailable  # noqa: E402  (after the skip above)

from django_onestep.endpoints.health_check_backend import OneStepHealthCheck  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)  # the check runs in a thread of its own


@override_settings(ONESTEP={"APP_NAME": "testproject", "HEALTH": {"WORKER_STALE_S": 10}})
async def test_unavailable_without_a_live_worker_then_ok() -> None:
    check = OneStepHealthCheck()
    result = await check.get_result()
    assert isinstance(result.error, ServiceUnavailable) and "workers" in str(result.error)
    now = timezone.now()
    await WorkerHeartbeat.objects.acreate(worker_id="w", host="h", pid=1, started_at=now - timedelta(minutes=1),
                                          last_seen=now)  # fmt: skip
    assert (await check.get_result()).error is None
