"""Child processes of ``executor="process"`` tasks use the test databases during a test run."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

from django_onestep.project.child_process import DATABASE_NAMES_ENV

__all__ = ["child_processes_use_test_databases"]


@contextmanager
def child_processes_use_test_databases() -> Iterator[None]:
    """Children spawned meanwhile open each alias under its current (test) name."""
    from django.db import connections

    names = {
        connection.alias: str(connection.settings_dict["NAME"])
        for connection in connections.all()
        if connection.settings_dict.get("NAME")
    }
    previous = os.environ.get(DATABASE_NAMES_ENV)
    os.environ[DATABASE_NAMES_ENV] = json.dumps(names)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(DATABASE_NAMES_ENV, None)
        else:
            os.environ[DATABASE_NAMES_ENV] = previous
