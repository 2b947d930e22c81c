"""The push JSON API, ``onestep_deliveries``, cron pushes, and a push to another site's webhook."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from django_onestep import ExponentialBackoff, OneStepApp, push
from django_onestep.models import Job, PushDelivery, PushHost
from django_onestep.pushes.cron_push import cron_push
from django_onestep.pushes.outbox import PUSH_QUEUE
from tests.django.push_helpers import Endpoint, serving
from tests.django.push_urls import PARTNER_SECRET
from tests.waiting import wait_until

TOKEN = "push-api-token-0123456789"
SETTINGS = {
    "APP_NAME": "testproject",
    "PUSH_ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
    "PUSH_API_TOKEN": TOKEN,
    "PUSH_SECRETS": {"partner": {"HMAC": PARTNER_SECRET}},
}
FAST = ExponentialBackoff(max_attempts=2, min_delay_s=0.01, max_delay_s=0.02)
DELIVERIES = "/onestep/push/deliveries/"

pytestmark = [pytest.mark.urls("tests.django.push_urls")]


def api(method: str, path: str, body: Any = None, token: str | None = TOKEN) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    client = Client()
    if method == "GET":
        return client.get(path, **headers)
    return client.post(path, json.dumps(body or {}), content_type="application/json", **headers)


@pytest.mark.django_db
@override_settings(ONESTEP=SETTINGS)
def test_the_api_needs_the_token() -> None:
    assert api("GET", DELIVERIES, token=None).status_code == 401
    assert api("GET", DELIVERIES, token="wrong-token-0123456789").status_code == 401
    assert api("GET", DELIVERIES).status_code == 200
    with override_settings(ONESTEP={"APP_NAME": "testproject"}):
        refused = api("GET", DELIVERIES)
        assert refused.status_code == 403
        assert "PUSH_API_TOKEN" in refused.json()["error"]


@pytest.mark.django_db
@override_settings(ONESTEP=SETTINGS)
def test_create_fetch_and_list_by_state_with_pages() -> None:
    created = api("POST", DELIVERIES, {"url": "http://127.0.0.1:9/x", "payload": {"a": 1}, "max_attempts": 4})
    assert created.status_code == 201, created.content
    one = created.json()
    assert (one["state"], one["max_attempts"], one["payload"]) == ("in_flight", 4, {"a": 1})
    assert Job.objects.filter(queue=PUSH_QUEUE).count() == 1
    assert api("GET", f"{DELIVERIES}{one['id']}/").json()["id"] == one["id"]
    for _ in range(4):
        push("http://127.0.0.1:9/x", {})
    PushDelivery.objects.filter(pk=one["id"]).update(state="dead")
    first = api("GET", f"{DELIVERIES}?state=in_flight&page_size=3").json()
    second = api("GET", f"{DELIVERIES}?state=in_flight&page_size=3&page=2").json()
    assert (len(first["results"]), first["next_page"], len(second["results"]), second["next_page"]) == (
        3,
        2,
        1,
        None,
    )
    assert [row["id"] for row in api("GET", f"{DELIVERIES}?state=dead").json()["results"]] == [one["id"]]


@pytest.mark.django_db
@override_settings(ONESTEP=SETTINGS)
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"payload": {}}, '"url"'),
        ({"url": "http://10.0.0.1/x"}, "PUSH_ALLOWED_HOSTS"),
        ({"url": "http://127.0.0.1/x", "retries": 3}, "unknown field 'retries'"),
        ({"url": "http://127.0.0.1/x", "timeout_s": -1}, "timeout_s"),
        ({"url": "http://127.0.0.1/x", "signing": "nope"}, "PUSH_SECRETS"),
    ],
)
def test_a_bad_create_is_a_400_naming_the_field(body: dict[str, Any], error: str) -> None:
    response = api("POST", DELIVERIES, body)
    assert response.status_code == 400
    assert error in response.json()["error"]
    assert PushDelivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.sqlite_only
@override_settings(ONESTEP=SETTINGS)
def test_a_dead_delivery_is_listed_by_api_and_command_and_requeued_by_both() -> None:
    with Endpoint([500, 500, 200, 200]) as endpoint:
        delivery_id = push(endpoint.url, {"n": 1}, backoff=FAST)
        with serving():
            wait_until(lambda: PushDelivery.objects.get(pk=delivery_id).state == "dead", 30, "dead")
            dead = api("GET", f"{DELIVERIES}?state=dead").json()["results"]
            assert [row["id"] for row in dead] == [str(delivery_id)]
            out = io.StringIO()
            call_command("onestep_deliveries", "list", "--state", "dead", stdout=out)
            assert str(delivery_id) in out.getvalue() and "dead" in out.getvalue()
            assert api("POST", f"{DELIVERIES}{delivery_id}/requeue/").status_code == 200
            wait_until(lambda: PushDelivery.objects.get(pk=delivery_id).state == "succeeded", 30, "requeued")
            assert api("POST", f"{DELIVERIES}{delivery_id}/requeue/").status_code == 409  # not dead
    assert len(endpoint.received) == 3
    assert PushDelivery.objects.get(pk=delivery_id).attempts == 1  # a fresh set of attempts


@pytest.mark.django_db
@override_settings(ONESTEP=SETTINGS)
def test_the_command_requeues_pauses_and_resumes() -> None:
    delivery_id = push("http://127.0.0.1:9/x", {})
    PushDelivery.objects.filter(pk=delivery_id).update(state="dead", attempts=3)
    out = io.StringIO()
    call_command("onestep_deliveries", "requeue", str(delivery_id), stdout=out)
    row = PushDelivery.objects.get(pk=delivery_id)
    assert (row.state, row.attempts) == ("in_flight", 0)
    assert Job.objects.filter(queue=PUSH_QUEUE).count() == 2
    with pytest.raises(CommandError, match="not requeued") as refused:
        call_command("onestep_deliveries", "requeue", str(delivery_id), "not-a-uuid")
    assert refused.value.returncode == 2
    call_command("onestep_deliveries", "pause", "Hooks.Example", stdout=out)
    assert PushHost.objects.get(host="hooks.example").paused
    call_command("onestep_deliveries", "resume", "hooks.example", stdout=out)
    assert not PushHost.objects.get(host="hooks.example").paused
    listing = io.StringIO()
    call_command("onestep_deliveries", "list", "--json", stdout=listing)
    assert json.loads(listing.getvalue())["results"][0]["id"] == str(delivery_id)


@pytest.mark.django_db
@override_settings(ONESTEP=SETTINGS)
def test_a_cron_push_task_pushes_on_each_tick() -> None:
    app = OneStepApp("cron-push")
    task = cron_push("nightly", "0 3 * * *", url="http://127.0.0.1:9/report", payload={"r": 1}, app=app)
    spec = app.get_task("nightly")
    assert type(spec.source).__name__ == "CronSource"
    delivery_id = task(None, {"tick": 1})
    row = PushDelivery.objects.get(pk=delivery_id)
    assert (row.url, row.payload) == ("http://127.0.0.1:9/report", {"r": 1})


@pytest.mark.django_db(transaction=True)
@pytest.mark.sqlite_only
@override_settings(ONESTEP=SETTINGS)
def test_a_django_onestep_webhook_verifies_our_signed_push(live_server: Any) -> None:
    from tests.django import push_urls

    url = f"{live_server.url}/onestep/hooks/from-partner".replace("localhost", "127.0.0.1")
    signed = push(url, {"order": 7}, signing="partner")
    unsigned = push(url, {"order": 8}, max_attempts=1)
    with serving():
        wait_until(lambda: PushDelivery.objects.get(pk=signed).state == "succeeded", 30, "the signed push")
        wait_until(lambda: PushDelivery.objects.get(pk=unsigned).state == "dead", 30, "the unsigned push")
    assert PushDelivery.objects.get(pk=unsigned).last_status == 401
    inbox = Job.objects.filter(queue="webhook:from_partner")
    assert [job.payload["body"] for job in inbox] == [{"order": 7}]
    assert push_urls.app.get_task("from_partner")


def test_push_imported_from_the_package_is_the_function_after_the_feature_loaded() -> None:
    import django_onestep
    import django_onestep.pushes.push_task

    assert callable(django_onestep.push) and django_onestep.push.__module__ == "django_onestep.pushes.outbox"
