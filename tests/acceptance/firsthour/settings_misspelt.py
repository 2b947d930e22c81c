"""A misspelt ONESTEP key; the URLconf imports a view that imports tasks.py."""

from testproject.settings import *  # noqa: F403
from testproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.acceptance.firsthour.shop"]
ROOT_URLCONF = "tests.acceptance.firsthour.shop.urls"
ONESTEP = {"APP_NAME": "firsthour", "LEASE_SS": 60}
