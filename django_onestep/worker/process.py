"""Run one worker process: prepare (exit 2 on bad input), serve, stop on signals.

Signals: the first SIGTERM/SIGINT asks the app to shut down gracefully (stop fetching,
let in-flight handlers finish up to the shutdown timeout, release claimed-but-unstarted
work, exit 0); a second one exits at once with ``128 + signal number`` (claims left
behind come back when their lease expires).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any

from django_onestep.worker.options import WorkerOptions, WorkerSetupError, no_tasks_message, select_tasks

__all__ = ["EXIT_CONFIG", "EXIT_OK", "EXIT_RUNTIME", "Worker"]

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_CONFIG = 2
_SETTLED_KINDS = frozenset({"succeeded", "failed", "retried"})

logger = logging.getLogger("django_onestep.worker")


class Worker:
    """One worker process serving the selected tasks of one app."""

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self.app: Any = None
        self.task_names: list[str] = []
        self.settled_count = 0
        self._signals_seen = 0
        self._stopping = False

    # -- setup -------------------------------------------------------------------------
    def prepare(self) -> Any:
        """Load and check everything; raise WorkerSetupError with a one-line reason."""
        from django_onestep.checks import (
            check_processes,
            discovery_errors,
            state_import_errors,
            tables_missing,
        )
        from django_onestep.conf import OneStepSettingsError, get_settings
        from django_onestep.core.errors import ConfigurationError
        from django_onestep.project.defaults import apply_django_defaults
        from django_onestep.schedules_db.install import install_schedule_coordinators
        from django_onestep.tasks_backend import install_configured_backends
        from django_onestep.webhooks.inbox import attach_inboxes
        from django_onestep.worker.sqlite_locking import use_immediate_transactions
        from django_onestep.worker.target import load_target

        options = self.options
        options.validate()
        use_immediate_transactions()
        try:
            conf = get_settings()
        except OneStepSettingsError as exc:
            raise WorkerSetupError(str(exc)) from exc
        problems = (
            state_import_errors(conf.STATE)
            + discovery_errors()
            + tables_missing(conf.DATABASE)
            + check_processes(options.processes, conf.DATABASE)
        )
        if problems:
            raise WorkerSetupError(f"{problems[0].msg} ({problems[0].hint})")
        try:
            app = load_target(options.target)
        except (WorkerSetupError, ConfigurationError):
            raise
        except Exception as exc:  # the target's module raised while importing
            logger.debug("loading %s failed", options.target, exc_info=True)
            first_line = (str(exc).strip().splitlines() or [""])[0]
            raise WorkerSetupError(
                f"cannot load {options.target!r}: {type(exc).__name__}: {first_line} (--log-level DEBUG shows the traceback)"
            ) from exc
        apply_django_defaults(app)
        attach_inboxes(app)  # webhook tasks read what Django's view accepted
        install_configured_backends(app)  # Django's @task functions, when TASKS names our backend
        names = select_tasks(app, options)
        if not names:
            raise WorkerSetupError(no_tasks_message(app, options))
        install_schedule_coordinators(app, names)
        from django_onestep.core.runtime.resources import preflight_problems

        preflight = preflight_problems(app, [spec for spec in app.tasks if spec.name in names])
        if preflight:
            raise WorkerSetupError(preflight[0])
        if options.concurrency is not None:
            for spec in app.tasks:
                if spec.name in names:
                    spec.concurrency = options.concurrency
        if options.shutdown_timeout_s is not None:
            app.shutdown_timeout_s = options.shutdown_timeout_s
        if options.max_tasks is not None:
            app.on_event(self._count_settled)
        if options.pool_child and (options.max_tasks_per_child or options.max_memory_per_child_kib):
            from django_onestep.worker.recycling import ChildRecycler

            recycler = ChildRecycler(
                self.stop,
                max_tasks=options.max_tasks_per_child,
                max_memory_kib=options.max_memory_per_child_kib,
            )
            app.on_event(recycler.on_event)
        if options.pool_child and options.max_tasks_per_child:
            for spec in app.tasks:
                gate = getattr(spec.source, "claim_no_more_than_asked", None)
                if spec.name in names and callable(gate):
                    gate()
        self.app = app
        self.task_names = names
        return app

    # -- running -----------------------------------------------------------------------
    def run(self) -> int:
        """Prepare and serve; return the process exit code."""
        from django_onestep.core.errors import ConfigurationError

        try:
            self.prepare()
        except (WorkerSetupError, ConfigurationError) as exc:
            logger.error("onestep_worker: %s", exc)
            return EXIT_CONFIG
        if self.options.supervised:
            from django_onestep.worker.supervisor import Supervisor

            # everything was checked here once; the children run the same options
            return Supervisor(self.options).run()
        try:
            asyncio.run(self._serve())
        except Exception:
            logger.exception("onestep_worker: the worker stopped on an error")
            return EXIT_RUNTIME
        finally:
            from django.db import connections

            connections.close_all()
        return EXIT_OK

    async def _serve(self) -> None:
        from django_onestep.conf import get_settings
        from django_onestep.schedules_db.admin_defined import AdminScheduleRunner
        from django_onestep.worker.outbox_relay_setup import start_worker_relay
        from django_onestep.worker.telemetry_setup import WorkerTelemetry

        app = self.app
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        telemetry = WorkerTelemetry(app, self.task_names, once=self.options.once)
        health = None
        if self.options.health_enabled:
            from django_onestep.worker.health import HealthServer

            health = HealthServer(
                self, int(self.options.healthcheck_port or 0), self.options.healthcheck_host
            )
            await health.start()
        logger.info(
            "onestep worker pid %s: app %r, tasks %s%s",
            os.getpid(),
            app.name,
            ", ".join(self.task_names),
            " (--once)" if self.options.once else "",
            extra={"app_name": app.name, "tasks": self.task_names, "pid": os.getpid()},
        )
        await telemetry.start()
        admin_schedules = AdminScheduleRunner(app, self.task_names, using=get_settings().DATABASE)
        # like code-defined schedules, admin-defined ones stay off --skip-local-sources workers
        if not self.options.once and not self.options.skip_local_sources:
            await admin_schedules.start()
        relay = start_worker_relay(self.options)
        try:
            # A signal during the startup awaits above is not lost: serve() honours a
            # shutdown requested before it (it starts and stops at once).
            await app.serve(until_idle=self.options.once, tasks=self.task_names)
        finally:
            if relay is not None:
                await asyncio.to_thread(relay.stop)
            await admin_schedules.stop()
            await telemetry.stop()
            if health is not None:
                await health.stop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        logger.info("onestep worker pid %s stopped", os.getpid())

    @property
    def stopping(self) -> bool:
        return self._stopping

    def _on_signal(self, signum: int) -> None:
        self._signals_seen += 1
        name = signal.Signals(signum).name
        if self._signals_seen > 1:
            logger.warning("%s again: exiting at once (unfinished claims return after their lease)", name)
            for handler in logging.getLogger("django_onestep").handlers:
                handler.flush()
            sys.stderr.flush()
            os._exit(128 + signum)
        logger.warning(
            "%s: finishing in-flight work (up to %ss), then exiting; send it again to exit at once",
            name,
            getattr(self.app, "shutdown_timeout_s", "?"),
        )
        self.stop()

    def stop(self) -> None:
        """Graceful stop, safe from any thread."""
        self._stopping = True
        self.app.request_shutdown()

    def _count_settled(self, event: Any) -> None:
        kind = getattr(event.kind, "value", event.kind)
        if kind not in _SETTLED_KINDS:
            return
        self.settled_count += 1
        max_tasks = self.options.max_tasks
        if max_tasks is not None and self.settled_count == max_tasks:
            logger.info("--max-tasks %s reached: stopping", max_tasks)
            self.stop()
