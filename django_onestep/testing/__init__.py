"""Test helpers for projects that use django-onestep (docs/testing.md).

- :func:`run_until_idle` runs the app's real worker loop in-process until every
  selected task's source is empty and nothing is in flight, then returns a
  :class:`RunSummary` of what happened. Work is read from the database by the queue's
  own connection, so the test's data must be committed: use
  ``@pytest.mark.django_db(transaction=True)`` / ``TransactionTestCase``.
- :func:`capture_enqueued` records what is enqueued instead of writing it.
- :func:`eager` makes ``handler.enqueue(payload)`` run the handler at once, in the
  caller's thread and transaction (works with the plain ``db`` fixture / ``TestCase``).
- :func:`make_jobs_due` makes delayed database-queue jobs (retries waiting for their
  delay) due now, so the next run picks them up.
- :class:`FakeClock` drives ``IntervalSource``/``CronSource`` (their ``clock=``).

The pytest plugin (``django_onestep.testing.pytest_plugin``, loaded automatically)
wraps them as fixtures: ``onestep_app``, ``onestep_worker``, ``onestep_capture``,
``onestep_eager``.
"""

from __future__ import annotations

from django_onestep.testing.capture import CapturedJob, EnqueueCapture, capture_enqueued
from django_onestep.testing.clock import FakeClock
from django_onestep.testing.eager import eager
from django_onestep.testing.jobs import make_jobs_due
from django_onestep.testing.run import RunSummary, arun_until_idle, run_until_idle

__all__ = [
    "CapturedJob",
    "EnqueueCapture",
    "FakeClock",
    "RunSummary",
    "arun_until_idle",
    "capture_enqueued",
    "eager",
    "make_jobs_due",
    "run_until_idle",
]
