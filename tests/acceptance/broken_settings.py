"""The test settings with one broken ONESTEP key (DJANGO_SETTINGS_MODULE for a subprocess)."""

from testproject.settings import *  # noqa: F403

ONESTEP = {"APP_NAME": "testproject", "LEASE_S": -1}
