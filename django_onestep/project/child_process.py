"""What each child process of ``executor="process"`` tasks does once before its first task.

The child is a fresh interpreter (``spawn``): it sets Django up from the same settings
module and environment as the worker, so the handler's ``tasks.py`` imports as it does
in the worker, and runs every call between ``close_old_connections()`` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["setup"]


def setup() -> Callable[[Callable[[], Any]], Any]:
    import django

    django.setup()
    from django_onestep.project.defaults import run_with_fresh_connections

    return run_with_fresh_connections
