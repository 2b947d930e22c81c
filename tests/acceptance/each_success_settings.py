"""The test settings with a log line per success (DJANGO_SETTINGS_MODULE for a subprocess)."""

from testproject.settings import *  # noqa: F403

ONESTEP = {**ONESTEP, "LOG_SUCCESSES": True}  # noqa: F405
