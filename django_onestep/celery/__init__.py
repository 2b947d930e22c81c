"""A Celery-compatible calling surface: change ``from celery import shared_task`` to
``from django_onestep.celery import shared_task`` and the tasks run under
``manage.py onestep_worker`` on the database queue.

See the "Leaving Celery" docs page for what maps to what.
"""

from __future__ import annotations

from django_onestep.celery.canvas import chain, chord, group
from django_onestep.celery.celery_app import Celery
from django_onestep.celery.exceptions import (
    MaxRetriesExceededError,
    Retry,
    SoftTimeLimitExceeded,
    TimeLimitExceeded,
)
from django_onestep.celery.result import AsyncResult
from django_onestep.celery.shared_task import CeleryTask, shared_task
from django_onestep.celery.signature import Signature

__all__ = [
    "AsyncResult",
    "Celery",
    "CeleryTask",
    "MaxRetriesExceededError",
    "Retry",
    "Signature",
    "SoftTimeLimitExceeded",
    "TimeLimitExceeded",
    "chain",
    "chord",
    "group",
    "shared_task",
]
