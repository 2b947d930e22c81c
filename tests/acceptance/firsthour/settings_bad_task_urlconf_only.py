"""The rejected tasks.py is not autodiscovered: only the URLconf (through a view) imports it."""

from testproject.settings import *  # noqa: F403
from testproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.acceptance.firsthour.broken_shop"]
ROOT_URLCONF = "tests.acceptance.firsthour.broken_shop.urls"
ONESTEP = {"APP_NAME": "firsthour", "TASK_MODULES": ["jobs"]}
