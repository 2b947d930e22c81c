"""Settings of the project the test suite runs in.

``DATABASE_URL`` picks the database (SQLite by default, ``mysql://...`` for MariaDB,
``postgres://...`` for PostgreSQL);
``ONESTEP_TEST_DB_NAME`` names the test database so parallel runs don't collide.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "testproject.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_onestep",
    "testproject.testapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "static/"

_default_sqlite = f"sqlite:///{BASE_DIR / '.testdb.sqlite3'}"
DATABASES = {"default": env.db("DATABASE_URL", default=_default_sqlite)}
_db = DATABASES["default"]
_test_name = os.environ.get("ONESTEP_TEST_DB_NAME")
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions avoid "database is locked" between the claim and ack
    # threads; WAL lets readers run beside the writer (see docs/dbqueue.md).
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so worker subprocesses in acceptance tests share it.
    _db["TEST"] = {"NAME": _test_name or str(BASE_DIR / ".testdb-test.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["TEST"] = {"NAME": _test_name or "test_onestep"}
else:
    _db.setdefault("OPTIONS", {}).update({"charset": "utf8mb4"})
    _db["TEST"] = {
        "NAME": _test_name or "test_onestep",
        "CHARSET": "utf8mb4",
        "COLLATION": "utf8mb4_unicode_ci",
    }

ONESTEP: dict[str, object] = {
    "APP_NAME": "testproject",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# Push acceptance tests: the worker subprocess serves pushes, may reach the test's
# local endpoint, and takes back a killed worker's claims after a short lease.
if os.environ.get("ONESTEP_TEST_PUSH"):
    ONESTEP.update(
        {
            "PUSH_ENABLED": True,
            "PUSH_ALLOWED_HOSTS": ["127.0.0.1"],
            "PUSH_SECRETS": {"test": {"HMAC": "push-test-secret"}},
            "LEASE_S": 2.0,
        }
    )

# Live-update acceptance tests: processes share a Redis channel layer.
if os.environ.get("ONESTEP_TEST_CHANNEL_LAYER_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["ONESTEP_TEST_CHANNEL_LAYER_URL"]]},
        }
    }
