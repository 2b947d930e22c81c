"""What each child process of ``executor="process"`` tasks does once before its first task.

The child is a fresh interpreter (``spawn``): it sets Django up from the same settings
module and environment as the worker, so the handler's ``tasks.py`` imports as it does
in the worker, and runs every call between ``close_old_connections()`` calls.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

__all__ = ["DATABASE_NAMES_ENV", "setup"]

# Set by the testing kit while it runs tasks: {alias: NAME}. The test database's name
# exists only in the parent's settings (the test runner renamed it), and a child that
# read the settings module alone would open the project's own database.
DATABASE_NAMES_ENV = "ONESTEP_CHILD_DATABASE_NAMES"


def _use_parent_database_names() -> None:
    names = os.environ.get(DATABASE_NAMES_ENV)
    if not names:
        return
    from django.conf import settings
    from django.db import connections

    for alias, name in json.loads(names).items():
        if alias in settings.DATABASES:
            settings.DATABASES[alias]["NAME"] = name
            connections[alias].settings_dict["NAME"] = name


def setup() -> Callable[[Callable[[], Any]], Any]:
    import django

    django.setup()
    _use_parent_database_names()
    from django_onestep.project.defaults import run_with_fresh_connections

    return run_with_fresh_connections
