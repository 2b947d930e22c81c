"""A tasks.py with an ImportError (not a task definition error)."""

from testproject.settings import *  # noqa: F403
from testproject.settings import INSTALLED_APPS

INSTALLED_APPS = [
    *(a for a in INSTALLED_APPS if a != "testproject.testapp"),
    "tests.acceptance.firsthour.typo_shop",
]
ONESTEP = {"APP_NAME": "firsthour"}
