"""SQS through a real worker process: heartbeat while alive, redelivery after a SIGKILL.

moto note: moto honours visibility timeouts and ChangeMessageVisibility like SQS, which
is all this test relies on (not on rejecting stale receipt handles, which moto does not).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import boto3
import pytest

from tests.integration.apps.worker_process import sigkill, start_worker, stop
from tests.waiting import wait_until

DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}
TARGET = "tests.integration.apps.sqs_worker_app:app"


def lines(path: Path, kind: str) -> list[tuple[int, int]]:
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(int(r[1]), int(r[2])) for r in rows if len(r) == 3 and r[0] == kind]


def start(env_extra: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return start_worker(TARGET, {**DUMMY_AWS, **env_extra}, log)


@pytest.mark.slow
def test_killed_workers_messages_come_back_after_the_visibility_timeout(
    sqs_endpoint: str, tmp_path: Path
) -> None:
    client = boto3.client(
        "sqs", region_name="us-east-1", endpoint_url=sqs_endpoint,
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    url = client.create_queue(
        QueueName=f"kill-{uuid.uuid4().hex[:10]}", Attributes={"VisibilityTimeout": "2"}
    )["QueueUrl"]
    out, log = tmp_path / "handled.txt", tmp_path / "worker.log"
    env = {"H4B_SQS_ENDPOINT": sqs_endpoint, "H4B_SQS_URL": url, "H4B_OUT": str(out)}
    for i in range(5):
        client.send_message(QueueUrl=url, MessageBody=f'{{"id": {i}}}')

    first = start({**env, "H4B_WORK_S": "600"}, log)  # handlers outlive the 2 s visibility
    try:
        wait_until(lambda: len(lines(out, "start")) == 5, 60, "five handlers to start")
        time.sleep(5)  # 2.5 visibility timeouts: the heartbeat must keep them hidden
        assert sorted(lines(out, "start")) == [(i, 0) for i in range(5)]  # nothing started twice
    finally:
        sigkill(first)

    second = start({**env, "H4B_WORK_S": "0"}, log)
    try:
        wait_until(lambda: len(lines(out, "done")) == 5, 60, "the killed worker's messages to come back")
    finally:
        code = stop(second)
    assert sorted(lines(out, "done")) == [(i, 1) for i in range(5)]  # attempts from ApproximateReceiveCount
    attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]) == (
        "0",
        "0",
    )
    assert code == 0, log.read_text()[-3000:]
