"""Enqueue modes and the outbox relay, without a broker: publishes are recorded, not sent.

(The same against real Redis, RabbitMQ and SQS: tests/integration/test_enqueue_from_django.py;
SIGKILLs: tests/acceptance/test_outbox_crash.py.)
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from django_onestep.conf import OneStepSettingsError, get_settings
from django_onestep.connectors.redis import RedisConnector
from django_onestep.core.errors import ConfigurationError
from django_onestep.models import OutboxMessage
from django_onestep.outbox import enqueue_modes, relay
from django_onestep.outbox.relay import OutboxRelay
from tests.needs import require_module

pytestmark = pytest.mark.django_db

# never connected to: every publish below is recorded by the fixture instead
queue = RedisConnector("redis://127.0.0.1:1/0").stream("outbox-unit")


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, bool]]:
    """(body, inside a transaction?) of each publish, in order."""
    calls: list[tuple[Any, bool]] = []

    def record(target: Any, envelope: Any, options: Any) -> None:
        calls.append((envelope.body, connection.in_atomic_block))

    monkeypatch.setattr(enqueue_modes, "publish_now", record)
    return calls


@pytest.mark.django_db(transaction=True)
def test_on_commit_publishes_after_the_commit_and_never_after_a_rollback(published: list[Any]) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        queue.send({"n": "rolled back"})
        raise RuntimeError
    assert published == []
    with transaction.atomic():
        queue.send({"n": 1})
        assert published == []
    assert published == [({"n": 1}, False)]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_or_with_on_commit_false_it_publishes_at_once(published: list[Any]) -> None:
    queue.send({"n": 1})
    with transaction.atomic():
        queue.send({"n": 2}, on_commit=False)
        assert published == [({"n": 1}, False), ({"n": 2}, True)]


def test_every_mode_returns_the_id_the_message_carries(published: list[Any]) -> None:
    at_once = queue.send({"n": 1})
    with transaction.atomic():
        in_outbox = queue.send({"n": 2}, outbox=True)
    assert len({at_once, in_outbox}) == 2 and all(len(i) == 32 for i in (at_once, in_outbox))
    assert OutboxMessage.objects.get().message_id == in_outbox
    assert f'"message_id":"{in_outbox}"' in OutboxMessage.objects.get().envelope
    assert queue.send({"n": 3}, message_id="order-7-charge", outbox=True) == "order-7-charge"


def test_the_outbox_row_is_written_in_the_callers_transaction(published: list[Any]) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        queue.send({"n": 1}, outbox=True)
        raise RuntimeError
    assert not OutboxMessage.objects.exists()
    queue.send({"n": 2}, outbox=True, delay_s=5)
    row = OutboxMessage.objects.get()
    assert (row.target, row.options) == (queue.publish_target, {"delay_s": 5})
    assert published == []


@pytest.mark.parametrize(("setting", "outboxed"), [(True, True), (["outbox-unit"], True), (["other"], False)])
def test_the_outbox_setting_names_the_queues_that_use_it(
    published: list[Any], setting: Any, outboxed: bool
) -> None:
    with override_settings(ONESTEP={"OUTBOX": setting}):
        queue.send({"n": 1}, on_commit=False)  # the outbox wins over it when it applies
    assert OutboxMessage.objects.exists() is outboxed
    assert len(published) == (0 if outboxed else 1)


def test_a_bad_outbox_setting_or_alias_names_itself() -> None:
    with (
        override_settings(ONESTEP={"OUTBOX": "yes"}),
        pytest.raises(OneStepSettingsError, match=r'ONESTEP\["OUTBOX"\]'),
    ):
        get_settings()
    with pytest.raises(ConfigurationError, match="using='nope'"):
        queue.send({"n": 1}, using="nope")


def test_a_payload_that_cannot_be_sent_fails_in_the_caller(published: list[Any]) -> None:
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        queue.send({"n": object()}, outbox=True)
    assert not OutboxMessage.objects.exists()


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the relay publishes; an item whose body has "refuse" is refused."""
    sent: list[Any] = []

    def publish_batch(items: list[Any], timeout_s: float) -> list[BaseException | None]:
        results: list[BaseException | None] = []
        for _queue, envelope, _options in items:
            refused = isinstance(envelope.body, dict) and "refuse" in envelope.body
            results.append(RuntimeError("nacked") if refused else None)
            if not refused:
                sent.append(envelope)
        return results

    monkeypatch.setattr(relay, "publish_batch", publish_batch)
    return sent


def test_the_relay_publishes_and_deletes_only_what_the_broker_accepted(broker: list[Any]) -> None:
    ok = queue.send({"n": 1}, outbox=True)
    queue.send({"refuse": True}, outbox=True)
    result = OutboxRelay(using="default").run_once()
    assert (result.claimed, result.published, result.failed) == (2, 1, 1)
    assert [e.meta["message_id"] for e in broker] == [ok]
    kept = OutboxMessage.objects.get()
    assert kept.last_error == "RuntimeError: nacked" and kept.lease_until > timezone.now()
    assert OutboxRelay(using="default").run_once().claimed == 0  # backing off


def test_a_claimed_row_is_not_claimed_again_until_its_lease_runs_out(broker: list[Any]) -> None:
    queue.send({"n": 1}, outbox=True)
    _token, claimed = OutboxRelay(using="default", lease_s=30).claim()  # a relay that then dies
    assert len(claimed) == 1
    assert OutboxRelay(using="default").run_once().claimed == 0
    OutboxMessage.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert OutboxRelay(using="default").run_once().published == 1
    assert not OutboxMessage.objects.exists()


def test_a_row_for_a_queue_this_process_does_not_know_is_kept_with_the_reason(broker: list[Any]) -> None:
    queue.send({"n": 1}, outbox=True)
    OutboxMessage.objects.update(target="redis:redis://elsewhere:unknown")
    assert OutboxRelay(using="default").run_once().failed == 1
    assert "import the module that declares it" in OutboxMessage.objects.get().last_error


def test_the_relay_command_drains_once_and_refuses_bad_options(broker: list[Any], capsys: Any) -> None:
    for n in range(3):
        queue.send({"n": n}, outbox=True)
    call_command("onestep_relay", "--once", "--batch-size", "2")
    assert "published 3 messages" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        call_command("onestep_relay", "--once", "--batch-size", "0")
    assert exited.value.code == 2
    assert "batch_size" in capsys.readouterr().err


def test_the_lag_is_in_the_admin_and_in_the_metrics() -> None:
    parser = require_module("prometheus_client.parser")
    queue.send({"n": 1}, outbox=True)
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(seconds=90), last_error="x")
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client = Client()
    client.force_login(user)
    page = client.get(reverse("admin:django_onestep_outboxmessage_changelist")).content.decode()
    assert "Relay lag" in page and queue.publish_target in page
    assert re.search(r"<td>(9\d|1\d\d)\.\d s</td>", page)  # waited 90 s (plus the test's own time)
    with override_settings(ONESTEP={"METRICS_TOKEN": "t" * 24}):
        text = client.get(reverse("django_onestep:metrics"), HTTP_AUTHORIZATION=f"Bearer {'t' * 24}").content
    samples = {
        (s.name, s.labels.get("target")): s.value
        for family in parser.text_string_to_metric_families(text.decode())
        for s in family.samples
    }
    assert samples[("onestep_outbox_messages", queue.publish_target)] == 1
    assert samples[("onestep_outbox_oldest_age_seconds", queue.publish_target)] >= 90
    assert samples[("onestep_outbox_failing_messages", queue.publish_target)] == 1
