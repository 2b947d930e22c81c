"""The test settings plus an app with webhook tasks, served at /onestep/ (real servers)."""

from testproject.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.acceptance.webhookapp"]  # noqa: F405
ROOT_URLCONF = "tests.acceptance.webhook_urls"
