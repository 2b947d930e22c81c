"""Batch handlers on an SQS queue (moto): a batch spans several receives of ten."""

from __future__ import annotations

import uuid

import pytest

from django_onestep.connectors.sqs import SQSConnector
from tests.integration.batch_checks import run_batches
from tests.needs import require_module

require_module("boto3")


@pytest.fixture(autouse=True)
def _dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(key, value)


async def test_batches_on_a_queue_delete_every_settled_message(sqs_endpoint: str) -> None:
    connector = SQSConnector(region_name="us-east-1", endpoint_url=sqs_endpoint)
    created = await connector.call("create_queue", QueueName=f"batches-{uuid.uuid4().hex[:10]}")
    url = str(created["QueueUrl"])
    queue = connector.queue(url, wait_time_s=0, poll_interval_s=0.1, delete_flush_interval_s=0.1)
    try:
        await run_batches(queue)
    finally:
        await queue.close()
    attributes = await connector.call(
        "get_queue_attributes",
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    assert attributes["Attributes"] == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
