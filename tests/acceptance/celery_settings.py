"""The test settings plus a Celery project's settings (DJANGO_SETTINGS_MODULE for a subprocess)."""

import os

from testproject.settings import *  # noqa: F403

CELERY_BROKER_URL = "redis://localhost:6379/0"
CELERY_RESULT_EXPIRES = 3600
CELERY_WORKER_MAX_TASKS_PER_CHILD = 50
CELERY_TASK_ROUTES = {"shop.tasks.*": {"queue": "shop"}}
CELERY_WORKER_CONCURRENCY = 4
# the acceptance test sets this to check the exit code of a value the helper cannot read
if "TEST_CELERY_RESULT_EXPIRES" in os.environ:
    CELERY_RESULT_EXPIRES = os.environ["TEST_CELERY_RESULT_EXPIRES"]
