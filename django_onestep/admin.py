"""Registers the operations console's admin pages (``django_onestep.console``)."""

from __future__ import annotations

from django_onestep.console import (
    cursor_admin,
    dead_letter_admin,
    job_admin,
    table_admins,
    task_admin,
    worker_admin,
)

__all__ = ["cursor_admin", "dead_letter_admin", "job_admin", "table_admins", "task_admin", "worker_admin"]
