"""Outbox mode survives SIGKILLs: of the web process right after a commit, and of the relay.

500 orders are created, each with a job for Redis and RabbitMQ (and every fifth
for SQS) enqueued ``outbox=True`` in the order's transaction, by a web process that is SIGKILLed right
after three random commits (nothing published yet). A relay (``manage.py
onestep_relay``) runs meanwhile and is SIGKILLed twice, so rows it published may not
be deleted. In the end every committed order's job is on every broker (0 lost), and
the copies of a job share one message id. SQLite pass only: the property is the
relay's, not the database's; one run covers the three brokers.
"""

from __future__ import annotations

import json
import random
import signal
from collections import defaultdict

import pytest

from django_onestep.models import OutboxMessage
from testproject.testapp.models import Order
from tests.acceptance.conftest import ManagedProcess, ManagePy
from tests.broker_queues import KINDS, aws_env, client_module, new_queue_name, read_all, server_env
from tests.needs import require_module, require_server
from tests.waiting import wait_until

pytestmark = pytest.mark.sqlite_only

TOTAL = 500
SQS_EVERY = 5
WEB = "from tests.acceptance.outbox_web import main; main()"
TARGET = "tests.acceptance.outbox_app:app"


def start_relay(manage: ManagePy, env: dict[str, str]) -> ManagedProcess:
    relay = manage.start("onestep_relay", TARGET, "--lease-s", "1", "--poll-interval-s", "0.05", env=env)
    relay.wait_for_output("relaying", 60)
    return relay


def test_sigkills_after_commit_lose_nothing_and_duplicates_share_the_id(manage: ManagePy) -> None:
    for kind in KINDS:
        require_server(server_env(kind))
        require_module(client_module(kind))
    aws_env()
    names = {kind: new_queue_name(kind) for kind in KINDS}
    kill_at = sorted(random.sample(range(20, TOTAL - 20), 3))
    env = {
        "OUTBOX_QUEUES": json.dumps(names),
        "OUTBOX_TOTAL": str(TOTAL),
        "OUTBOX_SQS_EVERY": str(SQS_EVERY),
        "OUTBOX_KILL_AT": ",".join(map(str, kill_at)),
    }
    relay = start_relay(manage, env)
    web_kills = 0
    while Order.objects.filter(reference__startswith="crash-").count() < TOTAL:
        code = manage.start("shell", "-c", WEB, env=env).wait(120)
        assert code in (0, -signal.SIGKILL), code
        if code == 0:
            break
        web_kills += 1
        if web_kills < 3:  # a relay killed mid-pass leaves published rows behind
            relay.signal(signal.SIGKILL)
            relay.wait(30)
            relay = start_relay(manage, env)
    assert web_kills == 3
    wait_until(lambda: not OutboxMessage.objects.exists(), 60, "the relay emptied the outbox")
    relay.signal(signal.SIGTERM)
    assert relay.wait(30) == 0, relay.output()

    committed = {int(ref.removeprefix("crash-")) for ref in Order.objects.values_list("reference", flat=True)}
    assert committed == set(range(TOTAL))
    for kind, name in names.items():
        expected = {i for i in committed if kind != "sqs" or i % SQS_EVERY == 0}
        ids: dict[int, set[str]] = defaultdict(set)
        messages = read_all(kind, name, quiet_s=1.0, timeout_s=120)
        for message in messages:
            ids[message.body["i"]].add(message.meta["message_id"])
        assert sorted(expected - set(ids)) == [], kind  # 0 lost
        assert set(ids) == expected, kind
        assert {i: found for i, found in ids.items() if len(found) != 1} == {}, kind  # copies share the id
        print(
            f"\n{kind}: {TOTAL} orders, web killed after {kill_at}, {len(messages)} messages for {len(expected)} jobs, 0 lost"
        )
