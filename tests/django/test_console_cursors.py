"""The cursors page: edit (validated, confirmed) and reset, with permissions and history."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from django_onestep.models import Cursor
from django_onestep.orm.stores import DatabaseCursorStore

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    return client


def cursor(value: object) -> int:
    DatabaseCursorStore().save_sync("orders", value)
    return int(Cursor.objects.get().pk)


def test_edit_validates_confirms_then_saves(admin_client: Client) -> None:
    row_id = cursor({"last_id": 41, "token": "s3cret-cursor"})
    url = reverse("admin:django_onestep_cursor_edit", args=[row_id])
    page = admin_client.get(url).content.decode()
    assert "last_id" in page and "s3cret-cursor" not in page
    assert "payload: not valid JSON" in admin_client.post(url, {"payload": "{oops"}).content.decode()
    edited = '{"last_id": 100, "token": "***"}'
    assert "Yes, save it" in admin_client.post(url, {"payload": edited}).content.decode()
    assert DatabaseCursorStore().load_sync("orders") == {"last_id": 41, "token": "s3cret-cursor"}
    admin_client.post(url, {"payload": edited, "confirm": "yes"})
    assert DatabaseCursorStore().load_sync("orders") == {"last_id": 100, "token": "s3cret-cursor"}
    assert Cursor.objects.get().version == 2
    assert LogEntry.objects.get().get_change_message() == "Value edited"


def test_reset_asks_then_deletes_the_row(admin_client: Client) -> None:
    row_id = cursor(41)
    url = reverse("admin:django_onestep_cursor_reset", args=[row_id])
    assert "Yes, reset it" in admin_client.get(url).content.decode()
    assert Cursor.objects.exists()
    admin_client.post(url)
    assert DatabaseCursorStore().load_sync("orders", "start") == "start"
    assert LogEntry.objects.get().get_change_message() == "Reset (deleted)"


def test_the_detail_offers_only_what_the_user_may_do() -> None:
    row_id = cursor(41)
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_cursor"))
    client = Client()
    client.force_login(user)
    detail = client.get(reverse("admin:django_onestep_cursor_change", args=[row_id])).content.decode()
    assert "onestep-cursor-edit" not in detail and "onestep-cursor-reset" not in detail
    edit = reverse("admin:django_onestep_cursor_edit", args=[row_id])
    assert client.post(edit, {"payload": "1", "confirm": "yes"}).status_code == 403
    assert client.post(reverse("admin:django_onestep_cursor_reset", args=[row_id])).status_code == 403
    assert DatabaseCursorStore().load_sync("orders") == 41
