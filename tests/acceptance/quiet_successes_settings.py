"""The test settings with ``LOG_SUCCESSES`` off (DJANGO_SETTINGS_MODULE for a subprocess)."""

from testproject.settings import *  # noqa: F403

ONESTEP = {**ONESTEP, "LOG_SUCCESSES": False}  # noqa: F405
