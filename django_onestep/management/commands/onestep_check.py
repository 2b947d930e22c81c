"""``manage.py onestep_check [TARGET] [--json]``: validate everything, start nothing."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_onestep.worker.report import build_django_report, render_django_report


class Command(BaseCommand):
    help = (
        "Load the app and validate it without starting anything: settings, tasks, sources, "
        "sinks, retry policies, schedules, webhook routes, django-onestep's system checks and "
        "tables. Prints a summary (or JSON with --json). Exit 0 when valid, 2 when not."
    )
    requires_system_checks: list[str] = []  # reported in the document instead

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "target",
            nargs="?",
            help="module:attr or a .yaml file; default: the project app (from django_onestep import app).",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="Print one machine-readable JSON document (keys: ok, app, tasks, problems, django).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = build_django_report(options["target"])
        if options["as_json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
        else:
            self.stdout.write(render_django_report(report), ending="")
        if not report["ok"]:
            sys.exit(2)
