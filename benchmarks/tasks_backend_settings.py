"""Settings of benchmarks/tasks_backend.py: both backends of Django's Tasks framework."""

from testproject.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]  # noqa: F405
TASKS = {
    "default": {
        "BACKEND": "django_onestep.tasks_backend.DatabaseBackend",
        "QUEUES": ["default"],
        "OPTIONS": {"CONCURRENCY": int(__import__("os").environ.get("BENCH_CONCURRENCY", "4"))},
    },
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]},
}
