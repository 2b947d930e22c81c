"""The ``check`` summary of an app: what would run, and what looks wrong, without I/O.

``build_report(app)`` returns a JSON-able dict (``--json`` prints it as is);
``render_report(report)`` the human text. The Django ``onestep_check`` command reuses
both. Problems have a level: an ``error`` makes the check fail, a ``warning`` not.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from django_onestep.core.runtime.describe import resource_summary as _resource
from django_onestep.core.runtime.resources import preflight_problems
from django_onestep.core.schedules.schedule import ScheduleSource

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["build_report", "render_report"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _handler_ref(handler: Any) -> str:
    target = getattr(handler, "__wrapped__", handler)
    module = getattr(target, "__module__", None) or "?"
    return f"{module}.{getattr(target, '__qualname__', type(target).__name__)}"


def _schedule(source: ScheduleSource) -> dict[str, Any]:
    info: dict[str, Any] = {
        "overlap": source.overlap,
        "timezone": source.timezone_name,
        "immediate": source.immediate,
    }
    expression = getattr(source, "expression", None)
    if expression is not None:
        info["expression"] = expression
    interval_s = getattr(source, "interval_s", None)
    if interval_s is not None:
        info["interval_s"] = interval_s
    info["misfire"] = source.misfire
    if source.leader_only:
        info["leader_only"] = True
    upcoming = [tick.isoformat() for tick in source.upcoming_fire_times(3)]
    info["next_fire_at"] = upcoming[0]
    info["next_fire_times"] = upcoming
    return info


def _webhook(source: Any) -> dict[str, Any]:
    return {
        "host": source.host,
        "port": source.port,
        "path": source.path,
        "methods": list(source.methods),
        "auth": type(source.auth).__name__ if source.auth is not None else None,
        "parser": source.parser,
    }


def _task_entry(app: OneStepApp, spec: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "handler": _handler_ref(spec.handler),
        "source": _resource(spec.source),
        "emit": [_resource(sink) for sink in spec.emit],
        # the effective sinks: the task's own, else the app's dead_letter_factory
        "dead_letter": [_resource(sink) for sink in app.dead_letter_sinks_for(spec)],
        "concurrency": spec.concurrency,
        "retry": repr(spec.retry),
        "timeout_s": spec.timeout_s,
        "config_keys": sorted(str(key) for key in spec.config),
    }
    if spec.batch_size is not None:
        entry["batch"] = {"batch_size": spec.batch_size, "batch_within_s": spec.batch_within_s}
    if isinstance(spec.source, ScheduleSource):
        entry["schedule"] = _schedule(spec.source)
    if type(spec.source).__name__ == "WebhookSource":
        entry["webhook"] = _webhook(spec.source)
    return entry


def _problems(app: OneStepApp) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []

    def add(level: str, task: str | None, message: str) -> None:
        problems.append({"level": level, "task": task, "message": message})

    tasks = list(app.tasks)
    if not tasks:
        add("error", None, "the app has no tasks")
    routes: dict[tuple[str, int, str, str], str] = {}
    schedule_users = Counter(id(spec.source) for spec in tasks if isinstance(spec.source, ScheduleSource))
    for spec in tasks:
        source = spec.source
        if source is None:
            add("warning", spec.name, "no source: it runs only through run_task_once")
        dead_letter = app.dead_letter_sinks_for(spec)
        if source is not None and any(id(sink) == id(source) for sink in dead_letter):
            add("error", spec.name, "the dead_letter sink is the task's own source (failures would loop)")
        if type(spec.retry).__name__ != "NoRetry" and not dead_letter:
            add("warning", spec.name, "no dead_letter: items that exhaust their retries are dropped")
        if isinstance(source, ScheduleSource) and schedule_users[id(source)] > 1:
            add("warning", spec.name, f"schedule {source.name!r} is shared by several tasks: ticks are split")
        if type(source).__name__ == "WebhookSource":
            assert source is not None
            host, port, path = (
                getattr(source, "host", ""),
                getattr(source, "port", 0),
                getattr(source, "path", ""),
            )
            for method in getattr(source, "methods", ()):
                key = (host, port, path, method)
                if port != 0 and key in routes and routes[key] != spec.name:
                    add(
                        "error",
                        spec.name,
                        f"webhook route {method} {host}:{port}{path} is also {routes[key]!r}'s",
                    )
                routes.setdefault(key, spec.name)
            if getattr(source, "auth", None) is None and host not in _LOOPBACK:
                add("warning", spec.name, f"webhook {path} on {host} accepts unauthenticated requests")
    return problems


def build_report(app: OneStepApp) -> dict[str, Any]:
    problems = _problems(app)
    problems += [
        {"level": "error", "task": None, "message": message}
        for message in preflight_problems(app, list(app.tasks))
    ]
    return {
        "app": app.name,
        "shutdown_timeout_s": app.shutdown_timeout_s,
        "task_count": len(app.tasks),
        "tasks": [_task_entry(app, spec) for spec in app.tasks],
        "problems": problems,
        "ok": not any(problem["level"] == "error" for problem in problems),
    }


def _fmt_resource(item: dict[str, str] | None) -> str:
    return "-" if item is None else f"{item['name']}<{item['type']}>"


def _fmt_resources(items: list[dict[str, str] | None]) -> str:
    return ",".join(_fmt_resource(item) for item in items) if items else "-"


def _fmt_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def render_report(report: dict[str, Any]) -> str:
    lines = [
        f"App: {report['app']}",
        f"Shutdown timeout: {_fmt_seconds(report['shutdown_timeout_s'])}",
        f"Tasks: {report['task_count']}",
    ]
    for task in report["tasks"]:
        lines.append(
            f"- {task['name']} source={_fmt_resource(task['source'])} emit={_fmt_resources(task['emit'])} "
            f"dead_letter={_fmt_resources(task['dead_letter'])} concurrency={task['concurrency']} "
            f"timeout={_fmt_seconds(task['timeout_s'])} retry={task['retry']}"
        )
        details = [f"handler={task['handler']}"]
        batch = task.get("batch")
        if batch:
            details.append(f"batch={batch['batch_size']} within={_fmt_seconds(batch['batch_within_s'])}")
        schedule = task.get("schedule")
        if schedule:
            what = schedule.get("expression") or f"every {schedule.get('interval_s')}s"
            details.append(
                f"schedule={what!r} tz={schedule['timezone']} overlap={schedule['overlap']} "
                f"misfire={schedule['misfire']}"
            )
            if schedule.get("leader_only"):
                details.append("leader-only")
            if schedule.get("paused"):
                details.append("paused")
            details.append(f"next={', '.join(schedule['next_fire_times'])}")
        webhook = task.get("webhook")
        if webhook:
            methods = ",".join(webhook["methods"])
            if "url" in webhook:  # served by Django: where the URLconf puts it
                details.append(f"webhook={methods} {webhook['url'] or '(no URL)'}")
            else:
                details.append(f"webhook={methods} {webhook['host']}:{webhook['port']}{webhook['path']}")
            details.append(f"auth={webhook['auth'] or '-'}")
        lines.append("  " + " ".join(details))
    problems = report["problems"]
    if not problems:
        lines.append("Problems: none")
    else:
        lines.append(f"Problems: {len(problems)}")
        for problem in problems:
            where = f"task {problem['task']}: " if problem["task"] else ""
            lines.append(f"- {problem['level']}: {where}{problem['message']}")
    lines.append("OK" if report["ok"] else "FAILED")
    return "\n".join(lines) + "\n"
