"""``manage.py onestep_purge --older-than 7d``: retention for batch submissions."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.submissions.durations import parse_age
from django_onestep.submissions.purge import purge_ended_before


class Command(BaseCommand):
    help = (
        "Delete batch submissions that ended (completed, failed or cancelled) more than "
        "--older-than ago, with their chunks, results and the payload files they offloaded "
        "to storage. Running submissions are never touched. Exit 0, or 2 on bad input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            required=True,
            metavar="AGE",
            help="How long ago a submission must have ended: 30d, 12h, 15m, 90s or seconds.",
        )
        parser.add_argument("--database", help="The database alias (default: ONESTEP['DATABASE']).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            age = parse_age(options["older_than"])
        except ValueError as exc:
            self.stderr.write(f"onestep_purge: --older-than: {exc}")
            sys.exit(2)
        using = options["database"] or get_settings().DATABASE

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"purged {done}/{total} submissions")

        submissions, chunks = purge_ended_before(using, timezone.now() - age, progress=progress)
        self.stdout.write(f"{submissions} submissions and {chunks} chunks purged (ended before {age} ago)")
