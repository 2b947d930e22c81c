"""Chunk payloads offloaded to S3 (django-storages' S3 backend) against moto's server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from django_onestep import SubmissionSource, submit
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.models import SubmissionChunk
from django_onestep.submissions.purge import purge_submission
from tests.django.dbqueue_helpers import orm, unique_name
from tests.needs import require_module

require_module("storages", extras="s3")
boto3 = require_module("boto3")

pytestmark = pytest.mark.django_db(transaction=True)

CREDENTIALS = {"access_key": "x", "secret_key": "x", "region_name": "us-east-1"}


@pytest.fixture
def bucket(sqs_endpoint: str) -> Iterator[Any]:
    """A fresh bucket, and STORAGES naming it as the "submissions" storage."""
    name = f"subs-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=sqs_endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=name)
    storages = {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "submissions": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": name, "endpoint_url": sqs_endpoint, **CREDENTIALS},
        },
    }
    with override_settings(STORAGES=storages):
        yield lambda: [item["Key"] for item in s3.list_objects_v2(Bucket=name).get("Contents", [])]


async def test_chunks_go_to_s3_are_read_back_by_the_worker_and_purge_deletes_them(bucket: Any) -> None:
    app = OneStepApp("subs")
    source = SubmissionSource(unique_name("s3"), per="chunk", poll_interval_s=0.05)

    @app.task(source=source)
    def lengths(ctx: Any, ops: list[str]) -> list[int]:
        return [len(op) for op in ops]

    words = ["w" * (100 + n) for n in range(30)]
    submission = await orm(submit)(
        lengths, words, chunk_size=10, storage="submissions", offload_over_bytes=512
    )
    keys = await orm(bucket)()
    assert sorted(keys) == [f"onestep/submissions/{submission.id}/{index}.json" for index in range(3)]
    names = await orm(
        lambda: list(
            SubmissionChunk.objects.filter(submission_id=submission.id).values_list("payload_file", flat=True)
        )
    )()
    assert all(name.startswith("submissions:onestep/submissions/") for name in names)
    await app.serve(until_idle=True)
    assert await orm(lambda: list(submission.results()))() == [100 + n for n in range(30)]
    await orm(purge_submission)("default", submission.id)
    assert await orm(bucket)() == []
