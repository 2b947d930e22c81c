"""Webhooks under real servers: gunicorn (WSGI, 2 workers) and uvicorn (ASGI), then the worker.

Each test starts the web server on a loopback port with the test database, sends real
HTTP, and runs ``manage.py onestep_worker --once`` afterwards: what was accepted while
no worker ran is processed when one starts.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from django_onestep.models import Job
from testproject.testapp.models import Run
from tests.acceptance.conftest import ManagePy
from tests.acceptance.webhook_client import (
    SERVERS,
    WebServer,
    github,
    hostile_requests,
    json_body,
    raw_request,
    send,
    stripe_headers,
)
from tests.acceptance.webhookapp.settings_values import LIMIT, TOKEN

SETTINGS = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.webhook_settings"}


def start_server(server: str, manage: ManagePy, tmp_path: Path) -> WebServer:
    return WebServer(server, {**manage.env, **SETTINGS}, tmp_path / f"{server}.log")


def run_worker(manage: ManagePy) -> None:
    result = manage.run(
        "onestep_worker", "--once", "--tasks", "github,stripe,token", env=SETTINGS, timeout_s=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("server", SERVERS)
def test_signed_deliveries_hostile_requests_and_the_worker_afterwards(
    server: str, manage: ManagePy, tmp_path: Path
) -> None:
    web = start_server(server, manage, tmp_path)
    try:
        port = web.port
        assert github(port, json_body({"ref": "main"}), "gh-1") == 202
        for _ in range(3):  # the sender retried: one job
            assert github(port, b"{}", "gh-repeat") == 202
        stale = stripe_headers(b'{"id": "evt_old"}', int(time.time()) - 301)
        assert send(port, raw_request("POST", "/onestep/hooks/stripe", b'{"id": "evt_old"}', stale)) == 401
        fresh = stripe_headers(b'{"id": "evt_1"}', int(time.time()))
        assert send(port, raw_request("POST", "/onestep/hooks/stripe", b'{"id": "evt_1"}', fresh)) == 202
        for auth in (None, "Bearer wrong", "Bearer t\xf6ken"):
            assert (
                send(port, raw_request("POST", "/onestep/hooks/token", b"{}", {"Authorization": auth})) == 401
            )
        token = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        at_limit = b'"' + b"a" * (LIMIT - 2) + b'"'
        assert send(port, raw_request("POST", "/onestep/hooks/token", at_limit + b" ", token)) == 413
        stored = Job.objects.filter(queue__startswith="webhook:").count()
        assert stored == 3  # gh-1, gh-repeat, evt_1

        statuses = Counter(send(port, data, half_close=eof) for data, eof in hostile_requests(200))
        assert sum(statuses[code] for code in (400, 401, 405, 413)) >= 150, statuses  # answered, not dropped
        assert not [status for status in statuses if status is not None and status >= 500], statuses
        assert Job.objects.filter(queue__startswith="webhook:").count() == stored
        assert web.popen.poll() is None, "the server died"
        assert "Traceback" not in web.output()
    finally:
        web.kill()

    run_worker(manage)  # the worker was down while these were accepted
    assert Counter(Run.objects.values_list("task", "label")) == Counter(
        {("github", "gh-1"): 1, ("github", "gh-repeat"): 1, ("stripe", "evt_1"): 1}
    )


@pytest.mark.parametrize("server", SERVERS)
def test_killing_the_web_server_right_after_the_202_loses_nothing(
    server: str, manage: ManagePy, tmp_path: Path
) -> None:
    web = start_server(server, manage, tmp_path)
    try:
        assert github(web.port, b'{"n": 1}', "just-before-the-kill") == 202
    finally:
        web.kill()  # SIGKILL at once
    run_worker(manage)
    assert list(Run.objects.values_list("label", flat=True)) == ["just-before-the-kill"]


@pytest.mark.parametrize("server", SERVERS)
def test_413_before_reading_a_declared_length_and_while_reading_a_chunked_body(
    server: str, manage: ManagePy, tmp_path: Path
) -> None:
    web = start_server(server, manage, tmp_path)
    token = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    try:
        # the client stays connected and sends nothing more: only an answer before
        # reading the body can arrive within the timeout
        huge = raw_request("POST", "/onestep/hooks/token", b"{", {**token, "Content-Length": "999999999"})
        assert send(web.port, huge, timeout_s=5) == 413
        chunk = f"{LIMIT:x}\r\n".encode() + b"x" * LIMIT + b"\r\n"
        chunked = {**token, "Content-Length": None, "Transfer-Encoding": "chunked"}
        endless = raw_request("POST", "/onestep/hooks/token", chunk * 2, chunked)  # type: ignore[arg-type]
        assert send(web.port, endless, timeout_s=5) == 413
        assert Job.objects.filter(queue__startswith="webhook:").count() == 0
    finally:
        web.kill()
