from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="example-only-not-secret")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "shop_project.urls"
USE_TZ = True
TIME_ZONE = "Europe/Paris"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_onestep",
    "orders",
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

# django-onestep: the block printed by `manage.py onestep_celery_settings`
ONESTEP = {
    "APP_NAME": "shop",
    "DONE_JOB_RETENTION_S": 86400.0,  # from CELERY_RESULT_EXPIRES
    "PROCESS_POOL": {
        "MAX_TASKS_PER_CHILD": 200,  # from CELERY_WORKER_MAX_TASKS_PER_CHILD
    },
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # the worker and the web server write to one file; the tests need a file, not :memory:
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    DATABASES["default"]["TEST"] = {
        "NAME": env("TEST_DATABASE_NAME", default=str(BASE_DIR / "test-db.sqlite3"))
    }
