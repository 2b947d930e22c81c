"""Chunks too large for a row go to storage; purging deletes them; onestep_purge."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from django_onestep import SubmissionSource, submit
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.models import SubmissionChunk, SubmissionRecord
from django_onestep.submissions.purge import purge_submission
from tests.django.dbqueue_helpers import orm, unique_name

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK_BYTES = 5 * 1024 * 1024


@pytest.fixture
def file_storage(tmp_path: Path) -> Any:
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield tmp_path


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def row_bytes(chunk_id: int) -> int:
    """The stored size of one chunk row: every column as the database returns it."""
    table = connection.ops.quote_name(SubmissionChunk._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [chunk_id])
        (row,) = cursor.fetchall()
    return sum(len(str(value).encode()) for value in row if value is not None)


def test_ten_chunks_of_5_mb_stay_out_of_the_rows_and_purge_removes_them(file_storage: Path) -> None:
    op = "x" * 5300  # 1,000 per chunk: over 5 MiB of JSON each

    def ops() -> Any:
        for _ in range(10 * 1000):
            yield op

    submission = submit(unique_name("big"), ops(), chunk_size=1000)
    chunks = list(
        SubmissionChunk.objects.filter(submission_id=submission.id).values("id", "payload", "payload_file")
    )
    assert len(chunks) == 10 and all(c["payload"] is None and c["payload_file"] for c in chunks)
    files = stored_files(file_storage)
    assert len(files) == 10 and all(path.stat().st_size > CHUNK_BYTES for path in files)
    assert max(row_bytes(c["id"]) for c in chunks) < 1024
    purge_submission("default", submission.id)
    assert stored_files(file_storage) == []
    assert not SubmissionRecord.objects.filter(id=submission.id).exists()
    assert not SubmissionChunk.objects.filter(submission_id=submission.id).exists()


async def test_a_worker_reads_an_offloaded_chunk_back(file_storage: Path) -> None:
    app = OneStepApp("subs")
    source = SubmissionSource(unique_name("offloaded"), per="chunk", poll_interval_s=0.05)

    @app.task(source=source)
    def lengths(ctx: Any, ops: list[str]) -> list[int]:
        return [len(op) for op in ops]

    words = ["a" * n for n in range(1, 31)]
    submission = await orm(submit)(lengths, words, chunk_size=10, offload_over_bytes=64)
    assert len(stored_files(file_storage)) == 3
    await app.serve(until_idle=True)
    assert await orm(lambda: list(submission.results()))() == list(range(1, 31))


def test_onestep_purge_deletes_only_submissions_that_ended_long_enough_ago() -> None:
    queue = unique_name("purge")
    old, recent, running = (submit(queue, range(4), chunk_size=2) for _ in range(3))
    old.cancel()
    recent.cancel()
    SubmissionRecord.objects.filter(id=old.id).update(finished_at=timezone.now() - timedelta(days=8))
    out = io.StringIO()
    call_command("onestep_purge", "--older-than", "7d", stdout=out)
    assert "purged 1/1 submissions" in out.getvalue()
    assert "1 submissions and 2 chunks purged" in out.getvalue()
    assert set(SubmissionRecord.objects.filter(queue=queue).values_list("id", flat=True)) == {
        recent.id,
        running.id,
    }
    assert SubmissionChunk.objects.filter(submission_id=old.id).count() == 0


@pytest.mark.parametrize("age", ["soon", "-1d", "7 days", ""])
def test_onestep_purge_refuses_a_bad_age_with_exit_2(age: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        call_command("onestep_purge", f"--older-than={age}")
    assert exited.value.code == 2
    assert "--older-than" in capsys.readouterr().err


def test_payload_files_are_named_after_the_storage(file_storage: Path) -> None:
    submission = submit(unique_name("named"), [["y" * 100]], chunk_size=1, offload_over_bytes=10)
    (name,) = SubmissionChunk.objects.filter(submission_id=submission.id).values_list(
        "payload_file", flat=True
    )
    alias, _, path = name.partition(":")
    assert alias == "default"
    assert json.loads((file_storage / path).read_text()) == [["y" * 100]]
