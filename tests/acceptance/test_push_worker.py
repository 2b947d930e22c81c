"""Pushes delivered by the real ``manage.py onestep_worker`` (``ONESTEP["PUSH_ENABLED"]``)."""

from __future__ import annotations

import collections
import json
import signal
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from django_onestep import push
from django_onestep.models import PushDelivery
from tests.django.push_helpers import Endpoint
from tests.waiting import poll

ENV = {"ONESTEP_TEST_PUSH": "1"}
ALLOW_LOCAL = {"APP_NAME": "testproject", "PUSH_ALLOWED_HOSTS": ["127.0.0.1"]}

pytestmark = [pytest.mark.sqlite_only]


def test_a_worker_killed_mid_run_and_restarted_delivers_all_forty(manage: Any, tmp_path: Path) -> None:
    with Endpoint([200], sleep_s=0.05) as endpoint:
        with override_settings(ONESTEP=ALLOW_LOCAL):
            ids = {str(push(endpoint.url, {"n": n})) for n in range(40)}
        args = ("onestep_worker", "--tasks", "onestep.push", "--concurrency", "4")
        worker = manage.start(*args, env=ENV)
        poll(lambda: len(endpoint.received) >= 10, "10 requests before the kill", timeout_s=60)
        worker.kill()  # SIGKILL, with requests in flight
        assert worker.popen.returncode == -signal.SIGKILL
        worker = manage.start(*args, env=ENV)
        poll(
            lambda: PushDelivery.objects.filter(state="succeeded").count() == 40,
            "every delivery succeeded",
            timeout_s=90,
        )
        worker.signal(signal.SIGTERM)
        assert worker.wait(60) == 0, worker.output()
    per_id = collections.Counter(r.headers["x-onestep-delivery-id"] for r in endpoint.received)
    assert set(per_id) == ids  # all 40 arrived
    payloads = {str(row.pk): row.payload for row in PushDelivery.objects.all()}
    for received in endpoint.received:  # a duplicate repeats its own delivery, id and body
        assert json.loads(received.body) == payloads[received.headers["x-onestep-delivery-id"]]
    assert sum(per_id.values()) - 40 <= 4  # at most the requests in flight at the kill
