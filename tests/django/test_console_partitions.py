"""The partitions page of a task on a partitioned Redis stream: owners, lag, releasing a quarantine."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from django_onestep.connectors.redis import RedisConnector
from django_onestep.console import task_catalogue
from django_onestep.core.runtime.app import OneStepApp
from tests.needs import require_module

require_module("redis")

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite_only]  # the page reads Redis, not the database


@pytest.fixture
def stream_app(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[OneStepApp, str]:
    name = f"console-{uuid.uuid4().hex[:8]}"
    app = OneStepApp("testproject")

    @app.task(source=RedisConnector(redis_url).partitioned_stream(name, partitions=4, key=lambda p: p["k"]))
    def apply(ctx: Any, payload: Any) -> None:
        return None

    monkeypatch.setattr(task_catalogue, "get_project_app", lambda: app)
    return app, name


async def prepare(url: str, name: str) -> None:
    client = await RedisConnector(url).acquire()
    await client.xadd(f"{name}:1", {"body": "{}"})
    await client.xgroup_create(f"{name}:1", "onestep", id="0")
    await client.set(f"{name}:onestep:lease:1", "web-1-42-abc|3", px=60_000)
    await client.hset(
        f"{name}:onestep:quarantine", "2", json.dumps({"entry_id": "9-0", "error": "ValueError: x"})
    )
    await client.aclose()


def client_with(*codenames: str) -> Client:
    username = f"op-{uuid.uuid4().hex[:6]}"
    user = get_user_model().objects.create_user(username, is_staff=True)  # no password: no hashing
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_owner_lag_and_quarantine_and_a_release_empties_it(
    stream_app: tuple[OneStepApp, str], redis_url: str
) -> None:
    _app, name = stream_app
    asyncio.run(prepare(redis_url, name))
    catalogue = client_with("view_pausedtask").get(reverse("admin:django_onestep_pausedtask_changelist"))
    page = reverse("admin:django_onestep_pausedtask_partitions", args=["apply"])
    assert f'href="{page}"' in catalogue.content.decode()
    viewer = client_with("view_pausedtask")
    body = viewer.get(page).content.decode()
    row1 = body[body.index('id="partition-1"') :]
    assert "<td>web-1-42-abc</td>" in row1 and "<td>1</td><td>0</td>" in row1  # owner, lag 1, pending 0
    row2 = body[body.index('id="partition-2"') :]
    assert "quarantined: " in row2[: row2.index("</tr>")]
    assert "onestep-release" not in body  # viewing is not releasing
    assert viewer.post(page, {"partition": "2"}).status_code == 403
    operator = client_with("view_pausedtask", "change_pausedtask")
    assert "onestep-release" in operator.get(page).content.decode()
    response = operator.post(page, {"partition": "2"}, follow=True)
    assert "Partition 2 released" in response.content.decode()
    body = operator.get(page).content.decode()
    assert "quarantined: " not in body


def test_a_task_on_another_source_has_no_partitions_page(stream_app: tuple[OneStepApp, str]) -> None:
    response = client_with("view_pausedtask").get(
        reverse("admin:django_onestep_pausedtask_partitions", args=["nope"])
    )
    assert response.status_code == 404
