"""A tasks.py using a Celery-style option (bind=True), imported by autodiscovery and by a view."""

from testproject.settings import *  # noqa: F403
from testproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.acceptance.firsthour.celery_shop"]
ROOT_URLCONF = "tests.acceptance.firsthour.celery_shop.urls"
ONESTEP = {"APP_NAME": "firsthour"}
