"""``manage.py onestep_celery_settings``: print the ``ONESTEP`` block for a project's Celery settings."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from django_onestep.celery.settings_map import celery_settings, map_celery_settings, render
from django_onestep.core.errors import ConfigurationError


class Command(BaseCommand):
    help = (
        "Read this project's Celery settings (CELERY_* names, old CELERYD_*/CELERYBEAT_* names "
        "and a CELERY = {...} dict) and print the ONESTEP = {...} block to paste into settings.py, "
        "followed by a comment line per Celery setting that is not needed (and why) or has no "
        "ONESTEP equivalent (and what to do instead). Writes nothing. Exit 0, or 2 when a Celery "
        "setting has a value that cannot be read."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = map_celery_settings(celery_settings(settings))
        except ConfigurationError as exc:
            self.stderr.write(f"onestep_celery_settings: {exc}")
            sys.exit(2)
        if not (result.onestep or result.not_needed or result.not_mapped):
            self.stderr.write(
                "onestep_celery_settings: no Celery setting found (no CELERY_* name, no CELERY dict)"
            )
        self.stdout.write(render(result), ending="")
