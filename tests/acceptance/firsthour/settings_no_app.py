"""The app with the tasks was never added to INSTALLED_APPS."""

from testproject.settings import *  # noqa: F403
from testproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*(a for a in INSTALLED_APPS if a != "testproject.testapp")]
ONESTEP = {"APP_NAME": "firsthour"}
