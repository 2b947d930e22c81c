"""A browser-like websocket client on a real uvicorn process gets a real worker's progress
and result, through channels-redis on the real Redis."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from django_onestep import DatabaseQueue
from tests.acceptance.conftest import ROOT, subprocess_database_url
from tests.needs import require_module
from tests.waiting import poll

websockets_client = require_module("websockets.sync.client")
require_module("channels_redis")

pytestmark = [pytest.mark.sqlite_only]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_websocket_client_gets_progress_and_result_from_a_real_worker(
    manage: Any, redis_url: str, tmp_path: Path
) -> None:
    User.objects.create_user("ops", password="pw", is_staff=True)
    client = Client()
    assert client.login(username="ops", password="pw")
    session = client.cookies["sessionid"].value
    job_id = DatabaseQueue("live-report").send({"steps": 3})
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "ONESTEP_TEST_CHANNEL_LAYER_URL": redis_url,
    }
    port = free_port()
    log = (tmp_path / "uvicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.acceptance.live_asgi:application", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        poll(lambda: listening(port) or server.poll() is not None, "uvicorn to listen", timeout_s=60)
        assert server.poll() is None, (tmp_path / "uvicorn.log").read_text()
        url = f"ws://127.0.0.1:{port}/ws/onestep/jobs/{job_id}/"
        with websockets_client.connect(url, additional_headers={"Cookie": f"sessionid={session}"}) as socket_:
            status = json.loads(socket_.recv(timeout=10))
            assert (status["event"], status["data"]["status"]) == ("status", "queued")
            worker = manage.start("onestep_worker", "tests.acceptance.live_app:app", "--once",
                                  env={"ONESTEP_TEST_CHANNEL_LAYER_URL": redis_url})  # fmt: skip
            events = [json.loads(socket_.recv(timeout=30)) for _ in range(4)]
            assert worker.wait(60) == 0, worker.output()
        assert [(e["event"], e["data"]) for e in events] == [
            ("progress", {"done": 1, "total": 3}),
            ("progress", {"done": 2, "total": 3}),
            ("progress", {"done": 3, "total": 3}),
            ("result", {"status": "done", "value": 30}),
        ]
        with pytest.raises(Exception, match="403"):  # no session: refused before the handshake
            with websockets_client.connect(url) as anonymous:
                anonymous.recv(timeout=10)
    finally:
        server.terminate()
        server.wait(30)
        log.close()
