"""``manage.py onestep_relay [TARGET] [--once]``: publish the outbox to the brokers."""

from __future__ import annotations

import signal
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_onestep.conf import get_settings
from django_onestep.core.errors import ConfigurationError
from django_onestep.outbox.relay import OutboxRelay
from django_onestep.outbox.relay_thread import RelayThread
from django_onestep.worker.options import WorkerSetupError
from django_onestep.worker.target import load_target


class Command(BaseCommand):
    help = (
        "Publish the outbox: broker messages written in transactions (ONESTEP['OUTBOX']) are sent "
        "with the broker's confirms and deleted once accepted. Runs until SIGTERM/SIGINT, or with "
        "--once until no message is due. Workers run a relay too unless "
        "ONESTEP['OUTBOX_RELAY_IN_WORKER'] is False; any number may run at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "target",
            nargs="?",
            help="module:attr or a .yaml file declaring the queues; default: the project's tasks modules.",
        )
        parser.add_argument("--once", action="store_true", help="Publish what is due, then exit.")
        parser.add_argument("--batch-size", type=int, default=200, help="Messages per pass (default 200).")
        parser.add_argument(
            "--lease-s",
            type=float,
            default=30.0,
            help="Seconds a claimed message is held before another relay may publish it (default 30).",
        )
        parser.add_argument(
            "--poll-interval-s", type=float, default=0.5, help="Pause when nothing is due (default 0.5)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            load_target(options["target"])  # imports the modules that declare the queues
            relay = OutboxRelay(
                using=get_settings().DATABASE, batch_size=options["batch_size"], lease_s=options["lease_s"]
            )
            if options["poll_interval_s"] <= 0:
                raise ConfigurationError(f"--poll-interval-s must be > 0, got {options['poll_interval_s']!r}")
        except (WorkerSetupError, ConfigurationError) as exc:
            self.stderr.write(f"onestep_relay: {exc}")
            sys.exit(2)
        if options["once"]:
            published = relay.drain()
            self.stdout.write(f"onestep_relay: published {published} messages")
            return
        runner = RelayThread(relay, poll_interval_s=options["poll_interval_s"])
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: runner.stop_soon())
        self.stdout.write("onestep_relay: relaying (SIGTERM to stop)")
        self.stdout.flush()
        runner.run()
        self.stdout.write(f"onestep_relay: stopped after publishing {runner.published} messages")
