"""One settings module for the Django peers, as ``django-admin startproject`` writes it.

``PEER`` picks the installed task app (``ours``: django_onestep; ``django-tasks-db``;
``django-q2``) and ``DATABASE_URL`` the database. Nothing is tuned: SQLite keeps
Django's default rollback journal unless the harness switched the file to WAL.
"""

import os
from urllib.parse import urlsplit

PEER = os.environ.get("PEER", "ours")
SECRET_KEY = "benchmark-only"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS: list[str] = []
ROOT_URLCONF = "benchmarks.peers.site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "benchmarks.peers.site.benchtasks",
]
INSTALLED_APPS += {
    "ours": ["django_onestep"],
    "django-tasks-db": ["django_tasks", "django_tasks_db"],
    "django-q2": ["django_q"],
}[PEER]


def _database(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": parts.path[1:] if parts.path.startswith("//") else parts.path,
        }
    engine = {"mysql": "mysql", "postgres": "postgresql"}[parts.scheme]
    return {
        "ENGINE": f"django.db.backends.{engine}",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


DATABASES = {"default": _database(os.environ["DATABASE_URL"])}

# django-tasks-db: the database backend is the default backend
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# django-q2: the ORM broker on the default database, one worker per core
Q_CLUSTER = {
    "name": "bench",
    "orm": "default",
    "workers": 2,
    "retry": 60,
    "timeout": 30,
    "log_level": "WARNING",
}

# PEER_LOG_SUCCESSES=1 (a line per success) or 0 (none) measures what the success
# lines cost against the default (their count every 10 s); not a row of the table
if os.environ.get("PEER_LOG_SUCCESSES") in ("0", "1"):
    ONESTEP = {"LOG_SUCCESSES": os.environ["PEER_LOG_SUCCESSES"] == "1"}
