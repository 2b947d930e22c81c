"""Secrets in payloads and meta are masked on every console page, yet replayed intact."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from django_onestep.console.secret_masking import is_secret_key, mask_secrets, restore_masked
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import DeadLetter, Job
from django_onestep.orm.stores import DatabaseStateStore
from tests.django.console_helpers import dead_letter

WEBHOOK_EVENT = {
    "headers": {"authorization": "Bearer s3cr3t-bearer", "x-hub-signature-256": "sha256=f00dfeed",
                "cookie": "sessionid=c00kie", "content-type": "application/json"},
    "body": {"order": 7, "card": {"password": "hunter2-pass", "api_key": "k3y-value"}},
}  # fmt: skip
SECRETS = ("s3cr3t-bearer", "f00dfeed", "c00kie", "hunter2-pass", "k3y-value")


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    return client


def test_secret_keys() -> None:
    for key in ("authorization", "Authorization", "x-hub-signature-256", "api_key", "X-Api-Key", "password",
                "aws_secret_access_key", "refresh_token", "set-cookie"):  # fmt: skip
        assert is_secret_key(key), key
    for key in ("author", "tokenizer", "keyboard", "content-type", "order"):
        assert not is_secret_key(key), key
    masked = mask_secrets([{"token": {"nested": 1}}, {"a": [{"password": "x"}]}])
    assert masked == [{"token": "***"}, {"a": [{"password": "***"}]}]


def test_restore_puts_back_only_masks_left_as_they_were() -> None:
    original = {"token": "real", "items": [{"secret": "s1"}], "n": 1}
    edited = {"token": "***", "items": [{"secret": "new-one"}], "n": 2}
    assert restore_masked(edited, original) == {"token": "real", "items": [{"secret": "new-one"}], "n": 2}


@pytest.mark.django_db
def test_detail_pages_mask_secrets(admin_client: Client) -> None:
    letter = dead_letter(WEBHOOK_EVENT)
    job_id = DatabaseQueue("hooks").send(WEBHOOK_EVENT, meta={"api_token": "t0ken-in-meta"})
    DatabaseStateStore().save_sync("creds", {"password": "state-pa55"})
    pages = [
        reverse("admin:django_onestep_deadletter_change", args=[letter]),
        reverse("admin:django_onestep_deadletter_edit_replay", args=[letter]),
        reverse("admin:django_onestep_job_change", args=[job_id]),
        reverse("admin:django_onestep_stateentry_changelist"),
    ]
    pages.append(reverse("admin:django_onestep_stateentry_change", args=[1]))
    for url in pages:
        body = admin_client.get(url).content.decode()
        for secret in (*SECRETS, "t0ken-in-meta", "state-pa55"):
            assert secret not in body, (url, secret)
    detail = admin_client.get(pages[0]).content.decode()
    assert "&quot;authorization&quot;: &quot;***&quot;" in detail and "application/json" in detail


@pytest.mark.django_db
def test_edit_and_replay_keeps_the_masked_secrets(admin_client: Client) -> None:
    letter = dead_letter(WEBHOOK_EVENT)
    url = reverse("admin:django_onestep_deadletter_edit_replay", args=[letter])
    form_text = admin_client.get(url).context["form"].initial["payload"]
    edited = form_text.replace('"order": 7', '"order": 8')
    review = admin_client.post(url, {"payload": edited}).content.decode()
    assert not any(secret in review for secret in SECRETS)
    admin_client.post(url, {"payload": edited, "confirm": "yes"})
    job = Job.objects.get(id=DeadLetter.objects.get(id=letter).replay_job_id)
    assert job.payload["body"]["order"] == 8
    assert job.payload["headers"] == WEBHOOK_EVENT["headers"]
    assert job.payload["body"]["card"] == WEBHOOK_EVENT["body"]["card"]
