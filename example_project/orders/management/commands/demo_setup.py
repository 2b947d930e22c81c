"""``manage.py demo_setup``: an admin/admin superuser (if missing) and what to try next."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

INSTRUCTIONS = """
The demo is ready. With the worker and the web server running (make demo):

  Admin (admin / admin):      {base}/admin/
  Dead letters:               {base}/admin/django_onestep/deadletter/

  Create an order (processed by the worker within a moment):
    curl -s -X POST {base}/orders/ -H 'Content-Type: application/json' \\
         -d '{"customer": "ada", "amount": "12.50"}'
  Read it back:
    curl -s {base}/orders/1/

  An express order also books a courier; that task always fails, is tried 3 times and
  then appears under Dead letters:
    curl -s -X POST {base}/orders/ -H 'Content-Type: application/json' \\
         -d '{"customer": "grace", "amount": "99.00", "express": true}'
"""


class Command(BaseCommand):
    help = "Create the demo superuser admin/admin if missing and print what to open and curl."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--addr",
            default="127.0.0.1:8000",
            help="host:port the web server listens on (make demo passes DEMO_ADDR), for the printed URLs",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            self.stdout.write("superuser 'admin' already exists")
        else:
            User.objects.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("created superuser admin / admin")
        self.stdout.write(INSTRUCTIONS.replace("{base}", f"http://{options['addr']}"))
