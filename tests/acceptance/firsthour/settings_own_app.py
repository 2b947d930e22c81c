"""The only tasks.py registers its tasks on its own OneStepApp, not the project app."""

from testproject.settings import *  # noqa: F403
from testproject.settings import INSTALLED_APPS

INSTALLED_APPS = [
    *(a for a in INSTALLED_APPS if a != "testproject.testapp"),
    "tests.acceptance.firsthour.own_app_shop",
]
ONESTEP = {"APP_NAME": "firsthour"}
