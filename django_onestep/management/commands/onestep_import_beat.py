"""``manage.py onestep_import_beat``: celery beat schedules become admin-defined schedules."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from django_onestep.conf import get_settings
from django_onestep.core.base import Sink
from django_onestep.project.project_app import get_project_app
from django_onestep.schedules_db.beat_import import from_beat_schedule, from_beat_tables
from django_onestep.schedules_db.beat_rows import save_entries


class Command(BaseCommand):
    help = (
        "Create a schedule (editable in the admin) for each celery beat entry, from the "
        "CELERY_BEAT_SCHEDULE setting or django-celery-beat's tables, and report the entries "
        "that cannot be mapped. Each enqueues on the project app task of the same name (or the "
        "last part of its dotted path), which needs a queue source. Running it again updates the "
        "same schedules. Exit 0, or 2 when the input cannot be read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="origin",
            choices=("settings", "tables"),
            help="settings: CELERY_BEAT_SCHEDULE; tables: django-celery-beat's tables. "
            "Default: settings when CELERY_BEAT_SCHEDULE is set, else tables.",
        )
        parser.add_argument(
            "--database",
            help="The database holding django-celery-beat's tables (default: ONESTEP['DATABASE']).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be imported; write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"] or get_settings().DATABASE
        beat_schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        origin = options["origin"] or ("settings" if beat_schedule is not None else "tables")
        if origin == "settings":
            if not isinstance(beat_schedule, dict):
                self._fail(
                    "CELERY_BEAT_SCHEDULE is not set (a dict of beat entries): set it, or pass --from tables"
                )
            timezone = str(getattr(settings, "CELERY_TIMEZONE", None) or "UTC")
            mapped = from_beat_schedule(beat_schedule or {}, timezone=timezone)
        else:
            try:
                mapped = from_beat_tables(using)
            except DatabaseError as exc:
                first_line = (str(exc).strip().splitlines() or [""])[0]
                self._fail(
                    f"cannot read django-celery-beat's tables in database {using!r} ({first_line}): "
                    "pass --database, or --from settings"
                )
        app = get_project_app()
        queue_tasks = {spec.name: isinstance(spec.source, Sink) for spec in app.tasks}
        lines, imported, skipped = save_entries(
            mapped, app_name=app.name, queue_tasks=queue_tasks, using=using, dry_run=options["dry_run"]
        )
        for line in lines:
            self.stdout.write(line)
        verb = "would be imported" if options["dry_run"] else "imported"
        self.stdout.write(f"{imported} {verb}, {skipped} not mapped")

    def _fail(self, message: str) -> NoReturn:
        self.stderr.write(f"onestep_import_beat: {message}")
        sys.exit(2)
