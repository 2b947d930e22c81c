"""``django_onestep.urls``: health/ follows the heartbeats; metrics/ needs its token and parses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from django_onestep.conf import OneStepSettingsError, get_settings
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import Job, TaskMetric, WorkerHeartbeat
from tests.django.console_helpers import dead_letter
from tests.needs import require_module

pytestmark = pytest.mark.django_db
parser = require_module("prometheus_client.parser")

TOKEN = "s3cret-metrics-token-0123"
SETTINGS = {"APP_NAME": "testproject", "METRICS_TOKEN": TOKEN, "HEALTH": {"WORKER_STALE_S": 10}}


def heartbeat(seen_s_ago: float, status: str = "running", worker_id: str = "w1") -> None:
    seen = timezone.now() - timedelta(seconds=seen_s_ago)
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"host": "h", "pid": 1, "status": status, "started_at": seen, "last_seen": seen},
    )


@override_settings(ONESTEP=SETTINGS)
def test_health_is_503_without_a_fresh_heartbeat_and_200_when_one_comes(client: Client) -> None:
    url = reverse("django_onestep:health")
    response = client.get(url)
    assert response.status_code == 503
    assert response.json()["checks"]["workers"] == {"ok": False, "alive": 0, "stale_after_s": 10.0}
    heartbeat(seen_s_ago=30)  # too old
    assert client.get(url).status_code == 503
    heartbeat(seen_s_ago=1)
    body = client.get(url).json()
    assert client.get(url).status_code == 200 and body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True} and body["checks"]["workers"]["alive"] == 1
    heartbeat(seen_s_ago=1, status="stopped")  # a worker that said goodbye is not alive
    assert client.get(url).status_code == 503


@override_settings(ONESTEP={**SETTINGS, "HEALTH": {"WORKER_STALE_S": 10, "QUEUE_LAG_S": 60}})
def test_health_reports_queue_lag_over_its_limit(client: Client) -> None:
    heartbeat(seen_s_ago=1)
    job_id = DatabaseQueue("lagging").send({"n": 1})
    Job.objects.filter(id=job_id).update(available_at=timezone.now() - timedelta(seconds=120))
    DatabaseQueue("fresh").send({"n": 2})
    DatabaseQueue("later").send({"n": 3}, delay_s=3600)  # not due: no lag
    response = client.get(reverse("django_onestep:health"))
    assert response.status_code == 503
    lag = response.json()["checks"]["queue_lag"]
    assert lag["ok"] is False and 119 < lag["max_lag_s"] < 200 and set(lag["queues"]) == {"lagging", "fresh"}


@override_settings(ONESTEP={**SETTINGS, "HEALTH": {"WORKER_STALE_S": 10, "DEAD_LETTERS_PER_HOUR": 1}})
def test_health_reports_dead_letter_growth(client: Client) -> None:
    heartbeat(seen_s_ago=1)
    dead_letter()
    assert client.get(reverse("django_onestep:health")).status_code == 200
    dead_letter()
    response = client.get(reverse("django_onestep:health"))
    assert response.status_code == 503
    assert response.json()["checks"]["dead_letters"] == {"ok": False, "last_hour": 2, "limit_per_hour": 1}


@pytest.mark.parametrize(
    ("onestep", "headers"),
    [
        (SETTINGS, {}),
        (SETTINGS, {"HTTP_AUTHORIZATION": "Bearer wrong-token-wrong-token"}),
        (SETTINGS, {"HTTP_AUTHORIZATION": TOKEN}),  # no scheme
        ({"APP_NAME": "testproject"}, {"HTTP_AUTHORIZATION": "Bearer anything"}),  # no token set
    ],
)
def test_metrics_without_the_token_is_401(client: Client, onestep: Any, headers: dict[str, str]) -> None:
    with override_settings(ONESTEP=onestep):
        response = client.get(reverse("django_onestep:metrics"), **headers)
    assert response.status_code == 401
    assert b"METRICS_TOKEN" in response.content and "onestep_" not in response.content.decode()


@override_settings(ONESTEP=SETTINGS)
def test_metrics_output_parses_and_carries_the_figures(client: Client) -> None:
    heartbeat(seen_s_ago=1)
    queue = DatabaseQueue("m-q")
    queue.send({"n": 1})
    queue.send({"n": 2})
    dead_letter()
    TaskMetric.objects.create(app="testproject", task="charge", window_start=timezone.now(), succeeded=3,
                              failed=1, duration_sum_s=0.6, histogram=[0, 0, 0, 1, 2] + [0] * 7)  # fmt: skip
    response = client.get(reverse("django_onestep:metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in parser.text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }
    assert samples[("onestep_queue_jobs", (("queue", "m-q"), ("status", "queued")))] == 2
    assert samples[("onestep_queue_jobs", (("queue", "console-q"), ("status", "dead")))] == 1
    assert ("onestep_queue_oldest_age_seconds", (("queue", "m-q"),)) in samples
    assert samples[("onestep_dead_letters_pending", ())] == 1
    assert samples[("onestep_workers_alive", ())] == 1

    def sample(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted({"app": "testproject", "task": "charge", **labels}.items())))]

    assert sample("onestep_task_outcomes_last_hour", outcome="succeeded") == 3
    assert sample("onestep_task_outcomes_last_hour", outcome="failed") == 1
    assert sample("onestep_task_duration_seconds_last_hour_bucket", le="0.05") == 1
    assert sample("onestep_task_duration_seconds_last_hour_bucket", le="+Inf") == 3
    assert sample("onestep_task_duration_seconds_last_hour_count") == 3


@override_settings(ONESTEP=SETTINGS)
def test_endpoints_run_a_fixed_number_of_queries(client: Client) -> None:
    def queries(url: str, **headers: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(url, **headers)
        return len(captured)

    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    DatabaseQueue("first").send({"n": 0})
    few = (queries(reverse("django_onestep:health")), queries(reverse("django_onestep:metrics"), **auth))
    for n in range(20):
        DatabaseQueue(f"q{n}").send({"n": n})
        heartbeat(seen_s_ago=1, worker_id=f"w{n}")
        dead_letter(task=f"t{n}")
    many = (queries(reverse("django_onestep:health")), queries(reverse("django_onestep:metrics"), **auth))
    assert few == many and max(many) <= 9  # 8, and one for the outbox gauges


@pytest.mark.parametrize(
    ("onestep", "key"),
    [
        ({"HEALTH": {"WORKER_STALE": 5}}, 'ONESTEP["HEALTH"]["WORKER_STALE"]: unknown setting; did you mean'),
        ({"HEALTH": {"QUEUE_LAG_S": -1}}, 'ONESTEP["HEALTH"]["QUEUE_LAG_S"]'),
        ({"METRICS_TOKEN": "short"}, 'ONESTEP["METRICS_TOKEN"]: must be a string of at least 16'),
    ],
)
def test_bad_endpoint_settings_name_the_key(onestep: dict[str, Any], key: str) -> None:
    with override_settings(ONESTEP=onestep), pytest.raises(OneStepSettingsError, match=r".*") as info:
        get_settings()
    assert str(info.value).startswith(key)
