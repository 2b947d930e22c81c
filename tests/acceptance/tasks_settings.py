"""The test settings with Django's Tasks framework on ``DatabaseBackend`` (for a subprocess)."""

from testproject.settings import *  # noqa: F403

TASKS = {
    "default": {
        "BACKEND": "django_onestep.tasks_backend.DatabaseBackend",
        "QUEUES": ["default"],
        "OPTIONS": {"LEASE_S": 1.0, "CONCURRENCY": 2},
    }
}
