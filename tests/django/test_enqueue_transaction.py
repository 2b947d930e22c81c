"""Enqueue joins the caller's transaction: rolled back never runs, committed runs once."""

from __future__ import annotations

import pytest
from django.db import transaction

from django_onestep.models import Job
from django_onestep.testing import run_until_idle
from testproject.testapp.models import Order, Run
from testproject.testapp.tasks import record

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


def test_rolled_back_enqueue_never_runs_committed_runs_once() -> None:
    with pytest.raises(Rollback), transaction.atomic():
        Order.objects.create(reference="lost")
        record.enqueue({"label": "lost"})
        raise Rollback
    with transaction.atomic():
        Order.objects.create(reference="kept")
        job_id = record.enqueue({"label": "kept"})
    assert list(Job.objects.values_list("id", flat=True)) == [job_id]

    summary = run_until_idle(tasks=["record"])

    assert summary.succeeded == 1
    assert list(Run.objects.values_list("label", flat=True)) == ["kept"]
    assert list(Order.objects.values_list("reference", flat=True)) == ["kept"]
    assert Job.objects.get(id=job_id).status == "done"
    # a second pass finds nothing: it ran once
    assert run_until_idle(tasks=["record"]).succeeded == 0


def test_savepoint_rollback_drops_only_its_job() -> None:
    with transaction.atomic():
        record.enqueue({"label": "outer"})
        with pytest.raises(Rollback), transaction.atomic():
            record.enqueue({"label": "inner"})
            raise Rollback
    run_until_idle(tasks=["record"])
    assert list(Run.objects.values_list("label", flat=True)) == ["outer"]
