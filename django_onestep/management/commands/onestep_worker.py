"""``manage.py onestep_worker``: a thin shell over ``django_onestep.worker.Worker``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_onestep.worker import Worker, WorkerOptions
from django_onestep.worker.logs import configure_worker_logging
from django_onestep.worker.options import parse_names

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Command(BaseCommand):
    help = (
        "Run a django-onestep worker: fetch work from the tasks' sources and run the handlers "
        "until stopped. SIGTERM/SIGINT stops gracefully (no new fetches, in-flight work finishes "
        "up to the shutdown timeout, claimed-but-unstarted work is released); a second signal exits "
        "at once. Exit codes: 0 ok, 1 runtime failure, 2 bad target or configuration."
    )
    # The worker runs the checks it needs itself and exits 2 (not 1) when they fail.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "target",
            nargs="?",
            help="App to run: module:attr (an OneStepApp or a factory returning one) or a .yaml file. "
            "Default: the project app (from django_onestep import app) with the tasks of every "
            "installed app's tasks.py.",
        )
        parser.add_argument(
            "--tasks",
            action="append",
            metavar="A,B",
            help="Run only these tasks (comma-separated, repeatable). Unknown names exit 2.",
        )
        parser.add_argument(
            "--exclude-tasks", action="append", metavar="A,B", help="Run every task except these."
        )
        parser.add_argument(
            "--queues",
            action="append",
            metavar="Q1,Q2",
            help="Run only the tasks whose source has one of these names (e.g. DatabaseQueue names).",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            metavar="N",
            help="Override every selected task's concurrency (handlers running at once per task).",
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            metavar="N",
            help="Run N worker processes under a supervisor that forwards signals, restarts "
            "dead ones and stops the pool on a crash loop (with --max-tasks: max tasks per child). "
            "Refused on SQLite (one write lock). With --healthcheck-port P, the supervisor serves "
            "on P and process i on P+1+i.",
        )
        parser.add_argument(
            "--max-tasks-per-child",
            type=int,
            metavar="N",
            help="Replace a worker process with a fresh one after N settled deliveries (even "
            "with one process: it then runs under the supervisor).",
        )
        parser.add_argument(
            "--max-memory-per-child",
            type=int,
            metavar="KIB",
            help="Replace a worker process with a fresh one once its resident memory exceeds "
            "this many KiB (checked as deliveries settle; it finishes its in-flight work first).",
        )
        parser.add_argument("--pool-child", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument(
            "--skip-local-sources",
            action="store_true",
            help="Skip tasks whose source lives in this process: interval/cron schedules (webhook "
            "tasks read their database inbox, so every process serves them). --processes N "
            "passes it to every process but the first, so a schedule fires once per machine; "
            "pass it on every machine but one to fire once per cluster.",
        )
        parser.add_argument(
            "--healthcheck-port",
            type=int,
            metavar="P",
            help="Serve GET /healthz (liveness) and /readyz (database, brokers, pool) as JSON on "
            "this port; 0 or absent: off.",
        )
        parser.add_argument(
            "--healthcheck-host",
            default="127.0.0.1",
            metavar="HOST",
            help="Address the health port binds (default 127.0.0.1; 0.0.0.0 in a container "
            "probed from outside).",
        )
        parser.add_argument(
            "--shutdown-timeout",
            type=float,
            metavar="S",
            help='Seconds in-flight work may take after a stop signal (default ONESTEP["SHUTDOWN_TIMEOUT_S"]); '
            "work still running then is cancelled and retried.",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Drain the work that is due, then exit 0 (for tests and cron).",
        )
        parser.add_argument(
            "--max-tasks",
            type=int,
            metavar="N",
            help="Stop gracefully after N deliveries settled (succeeded, failed or retried).",
        )
        parser.add_argument(
            "--log-format",
            choices=("text", "json"),
            help='Log lines as text or one JSON object per line (default ONESTEP["LOG_FORMAT"]).',
        )
        parser.add_argument(
            "--log-level",
            choices=LOG_LEVELS,
            type=str.upper,
            help="Log level (default INFO, or from -v: 0 WARNING, 2+ DEBUG). INFO shows a line per retry "
            'or failure and the count of successes every 10 s (ONESTEP["LOG_SUCCESSES"] = True: a line '
            "per success); DEBUG adds retry tracebacks.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        level = options["log_level"] or {0: "WARNING", 1: "INFO"}.get(options["verbosity"], "DEBUG")
        configure_worker_logging(options["log_format"] or _settings_log_format(), level)
        worker_options = WorkerOptions(
            target=options["target"],
            tasks=parse_names(options["tasks"]),
            exclude_tasks=parse_names(options["exclude_tasks"]),
            queues=parse_names(options["queues"]),
            concurrency=options["concurrency"],
            processes=options["processes"],
            healthcheck_port=options["healthcheck_port"],
            healthcheck_host=options["healthcheck_host"],
            shutdown_timeout_s=options["shutdown_timeout"],
            once=options["once"],
            max_tasks=options["max_tasks"],
            log_format=options["log_format"],
            log_level=level,
            skip_local_sources=options["skip_local_sources"],
            max_tasks_per_child=options["max_tasks_per_child"],
            max_memory_per_child_kib=options["max_memory_per_child"],
            pool_child=options["pool_child"],
        )
        code = Worker(worker_options).run()
        if code:
            sys.exit(code)


def _settings_log_format() -> str:
    from django_onestep.conf import OneStepSettingsError, get_settings

    try:
        return get_settings().LOG_FORMAT
    except OneStepSettingsError:
        return "text"  # the worker reports the broken setting and exits 2
