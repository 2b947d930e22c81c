"""A tasks.py the runtime rejects (concurrency=0), imported by autodiscovery and by a view."""

from testproject.settings import *  # noqa: F403
from testproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.acceptance.firsthour.broken_shop"]
ROOT_URLCONF = "tests.acceptance.firsthour.broken_shop.urls"
ONESTEP = {"APP_NAME": "firsthour"}
