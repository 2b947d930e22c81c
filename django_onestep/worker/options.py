"""Worker options and task selection (``--tasks``, ``--exclude-tasks``, ``--queues``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = [
    "WorkerOptions",
    "WorkerSetupError",
    "is_process_local",
    "no_tasks_message",
    "parse_names",
    "select_tasks",
]


class WorkerSetupError(ConfigurationError):
    """The target or options are unusable: the worker exits with code 2 and this message."""


@dataclass
class WorkerOptions:
    target: str | None = None
    tasks: Sequence[str] = ()
    exclude_tasks: Sequence[str] = ()
    queues: Sequence[str] = ()
    concurrency: int | None = None
    processes: int = 1
    healthcheck_port: int | None = None
    healthcheck_host: str = "127.0.0.1"
    shutdown_timeout_s: float | None = None
    once: bool = False
    max_tasks: int | None = None
    log_format: str | None = None
    log_level: str = "INFO"
    #: Skip tasks whose source lives inside the process (schedules, standalone webhook
    #: listeners): under --processes N only the first child runs them.
    skip_local_sources: bool = False
    #: Recycle a pool child after this many settled deliveries / above this resident
    #: memory (KiB, as Celery's option); either one puts even one process under the supervisor.
    max_tasks_per_child: int | None = None
    max_memory_per_child_kib: int | None = None
    #: Set by the supervisor on the processes it starts: they apply the per-child limits
    #: to themselves instead of supervising.
    pool_child: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.concurrency is not None and self.concurrency < 1:
            raise WorkerSetupError(f"--concurrency must be >= 1, got {self.concurrency}")
        if self.processes < 1:
            raise WorkerSetupError(f"--processes must be >= 1, got {self.processes}")
        if self.max_tasks is not None and self.max_tasks < 1:
            raise WorkerSetupError(f"--max-tasks must be >= 1, got {self.max_tasks}")
        for flag, limit in (
            ("--max-tasks-per-child", self.max_tasks_per_child),
            ("--max-memory-per-child", self.max_memory_per_child_kib),
        ):
            if limit is not None and limit < 1:
                raise WorkerSetupError(f"{flag} must be >= 1, got {limit}")
        if self.shutdown_timeout_s is not None and self.shutdown_timeout_s <= 0:
            raise WorkerSetupError(f"--shutdown-timeout must be > 0, got {self.shutdown_timeout_s}")
        if self.healthcheck_port is not None and not 0 <= self.healthcheck_port <= 65535:
            raise WorkerSetupError(f"--healthcheck-port must be 0-65535, got {self.healthcheck_port}")
        if self.log_format not in (None, "text", "json"):
            raise WorkerSetupError(f"--log-format must be text or json, got {self.log_format!r}")

    @property
    def supervised(self) -> bool:
        """Run under the supervisor: several processes, or one recycled by its limits."""
        if self.pool_child:
            return False
        recycled = self.max_tasks_per_child is not None or self.max_memory_per_child_kib is not None
        return self.processes > 1 or recycled

    @property
    def health_enabled(self) -> bool:
        return bool(self.healthcheck_port)  # None or 0: off


def parse_names(values: Iterable[str] | None) -> list[str]:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]`` (options may repeat or use commas)."""
    names: list[str] = []
    for value in values or ():
        names.extend(part.strip() for part in value.split(",") if part.strip())
    return names


def _source_name(spec: Any) -> str | None:
    source = getattr(spec, "source", None)
    return getattr(source, "name", None) if source is not None else None


def is_process_local(source: Any) -> bool:
    """A source every worker process would run on its own: an interval/cron schedule
    (each process would fire every tick) or a standalone webhook listener (each would
    bind the same port). A webhook served by Django reads its inbox: any process may."""
    from django_onestep.core.http.webhook import WebhookSource
    from django_onestep.core.schedules.schedule import ScheduleSource

    if isinstance(source, WebhookSource):
        return source.inbox is None
    return isinstance(source, ScheduleSource)


def select_tasks(app: Any, options: WorkerOptions) -> list[str]:
    """Names of the tasks this worker runs; unknown names are a setup error."""
    specs = list(app.tasks)
    known = [spec.name for spec in specs]
    for option, names in (("--tasks", options.tasks), ("--exclude-tasks", options.exclude_tasks)):
        unknown = [name for name in names if name not in known]
        if unknown:
            raise WorkerSetupError(
                f"{option}: unknown task {unknown[0]!r} in app {app.name!r} (tasks: {', '.join(known) or 'none'})"
            )
    if options.queues:
        source_names = {_source_name(spec) for spec in specs}
        unknown = [name for name in options.queues if name not in source_names]
        if unknown:
            known_sources = ", ".join(sorted(n for n in source_names if n)) or "none"
            raise WorkerSetupError(
                f"--queues: no task reads from {unknown[0]!r} in app {app.name!r} (sources: {known_sources})"
            )
    selected = []
    for spec in specs:
        if spec.source is None:
            continue  # nothing to fetch: run only through controls / ctx.emit
        if options.tasks and spec.name not in options.tasks:
            continue
        if spec.name in options.exclude_tasks:
            continue
        if options.queues and _source_name(spec) not in options.queues:
            continue
        if options.skip_local_sources and is_process_local(spec.source):
            continue
        selected.append(spec.name)
    return selected


def no_tasks_message(app: Any, options: WorkerOptions) -> str:
    """Why ``select_tasks`` chose nothing, naming only the options actually passed.

    With the project app and no filter, the usual cause is where tasks were looked for
    (an app missing from INSTALLED_APPS, a tasks.py using its own OneStepApp), so the
    message says where autodiscovery looked and what it imported.
    """
    prefix = f"no task to run in app {app.name!r}"
    specs = list(app.tasks)
    with_source = [spec.name for spec in specs if spec.source is not None]
    if options.skip_local_sources and select_tasks(app, replace(options, skip_local_sources=False)):
        return (
            f"{prefix} without its schedules and webhook listeners "
            "(--skip-local-sources; --processes N gives them to the first process only): "
            "run fewer processes"
        )
    passed = [
        f"{flag} {','.join(names)}"
        for flag, names in (
            ("--tasks", options.tasks),
            ("--exclude-tasks", options.exclude_tasks),
            ("--queues", options.queues),
        )
        if names
    ]
    if with_source and passed:
        return f"{prefix} with {' '.join(passed)} (tasks with a source: {', '.join(with_source)})"
    if specs:
        return (
            f"{prefix}: its tasks ({', '.join(spec.name for spec in specs)}) have no source to "
            "fetch from: give them one, e.g. @app.task(source=DatabaseQueue('emails'))"
        )
    if options.target is not None:
        return f"{prefix} (loaded from {options.target!r}): it has no tasks; register them with @app.task(source=...)"
    return f"{prefix}: {_where_tasks_were_looked_for()}"


def _where_tasks_were_looked_for() -> str:
    from django.apps import apps

    config: Any = apps.get_app_config("django_onestep")
    module_names: list[str] = list(config.task_module_names)
    imported: list[str] = list(config.imported_task_modules)
    setting = f'ONESTEP["TASK_MODULES"] = {module_names!r}'
    if not module_names:
        return f"{setting}, so no tasks module was looked for in INSTALLED_APPS"
    if imported:
        return (
            f"the tasks modules imported ({', '.join(imported)}; {setting}) register no task on "
            "it: use 'from django_onestep import app' and decorate handlers with @app.task(source=...)"
        )
    wanted = " or ".join(repr(name) for name in module_names)
    yours = [
        c.name
        for c in apps.get_app_configs()
        if not c.name.startswith("django.") and c.name != "django_onestep"
    ]
    if not yours:
        return (
            f"looked for a {wanted} module ({setting}) in INSTALLED_APPS, which has no app of "
            "yours: add the app whose tasks.py defines the tasks"
        )
    return (
        f"none of your INSTALLED_APPS ({', '.join(yours)}) has a {wanted} module ({setting}): "
        f"put @app.task(source=...) handlers in <app>/{module_names[0]}.py of an installed app"
    )
