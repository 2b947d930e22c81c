"""``manage.py onestep_deliveries list|requeue|pause|resume``: push deliveries from a shell.

- ``list [--state in_flight|succeeded|dead] [--page N] [--json]``
- ``requeue ID [ID ...]``: dead deliveries get a fresh set of attempts;
- ``pause HOST`` / ``resume HOST``: deliveries to HOST wait (no attempt is counted).

Exit code 2 for a usage error (an unknown state, an id that is not dead).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_onestep.pushes.operations import STATES, list_deliveries, requeue, set_paused


class Command(BaseCommand):
    help = "List, requeue, pause and resume push deliveries."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="deliveries, newest first")
        listing.add_argument("--state", choices=STATES)
        listing.add_argument("--page", type=int, default=1)
        listing.add_argument("--page-size", type=int, default=50)
        listing.add_argument("--json", action="store_true", help="one JSON document")
        again = actions.add_parser("requeue", help="dead deliveries get fresh attempts")
        again.add_argument("ids", nargs="+")
        for name in ("pause", "resume"):
            actions.add_parser(name, help=f"{name} deliveries to a host").add_argument("host")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            page = list_deliveries(options["state"], page=options["page"], page_size=options["page_size"])
            if options["json"]:
                self.stdout.write(json.dumps(page, indent=2))
                return
            for row in page["results"]:
                status = row["last_status"] if row["last_status"] is not None else "-"
                self.stdout.write(
                    f"{row['id']}  {row['state']:<9}  {row['attempts']}/{row['max_attempts']}  "
                    f"{status}  {row['method']} {row['url']}"
                )
            if page["next_page"]:
                self.stdout.write(f"(more: --page {page['next_page']})")
        elif action == "requeue":
            refused = [delivery_id for delivery_id in options["ids"] if not _requeued(delivery_id)]
            if refused:
                raise CommandError(f"not dead (or unknown), not requeued: {', '.join(refused)}", returncode=2)
            self.stdout.write(f"requeued {len(options['ids'])} deliveries")
        else:
            set_paused(options["host"], action == "pause")
            self.stdout.write(f"{options['host']}: {'paused' if action == 'pause' else 'resumed'}")


def _requeued(delivery_id: str) -> bool:
    try:
        return requeue(delivery_id)
    except ValueError:  # not a UUID
        return False
