"""The ``onestep_check`` document: the core ``check`` report plus Django's view.

The core part (tasks, sources, sinks, retry, schedules, problems) comes from
``django_onestep.core.declarative.check.build_report``; this adds the ``django`` section (system
check messages of django-onestep, missing tables, tasks modules that failed to
register) and folds its errors into ``ok``.
"""

from __future__ import annotations

from typing import Any

from django_onestep.worker.options import WorkerSetupError

__all__ = ["build_django_report", "render_django_report"]


def _django_messages(alias: str | None) -> list[dict[str, Any]]:
    from django.core.checks import ERROR, run_checks

    from django_onestep.checks import tables_missing

    messages = [m for m in run_checks() if (m.id or "").startswith("django_onestep.")]
    if alias is not None:
        messages += tables_missing(alias)
    return [
        {
            "id": m.id,
            "level": "error" if m.level >= ERROR else "warning",
            "message": m.msg,
            "hint": m.hint,
        }
        for m in messages
    ]


def _add_webhook_urls(report: dict[str, Any]) -> None:
    """Served by Django: each webhook's full URL, or a warning that none routes to it."""
    from django_onestep.webhooks.routes import full_url

    for task in report["tasks"]:
        webhook = task.get("webhook")
        if not webhook:
            continue
        webhook["url"] = full_url(webhook["path"])
        if webhook["url"] is not None and webhook["auth"] is None:
            report["problems"].append(
                {
                    "level": "warning",
                    "task": task["name"],
                    "message": f"webhook {webhook['url']} accepts unauthenticated requests: pass auth=",
                }
            )
        if webhook["url"] is None:
            report["problems"].append(
                {
                    "level": "warning",
                    "task": task["name"],
                    "message": f"webhook {webhook['path']} has no URL: add "
                    "path('onestep/', include('django_onestep.urls')) to the URLconf",
                }
            )


def build_django_report(target: str | None) -> dict[str, Any]:
    """The whole document; never raises for bad settings or targets (they become errors)."""
    from django_onestep.conf import OneStepSettingsError, get_settings
    from django_onestep.connectors.redis.partition_status import add_partition_status
    from django_onestep.core.declarative.check import build_report
    from django_onestep.core.errors import ConfigurationError
    from django_onestep.project.defaults import apply_django_defaults
    from django_onestep.schedules_db.listing import add_admin_schedules, add_stored_schedule_state
    from django_onestep.worker.target import load_target

    try:
        alias: str | None = get_settings().DATABASE
    except OneStepSettingsError:
        alias = None  # E001 in the messages says why
    django_messages = _django_messages(alias)
    report: dict[str, Any] = {"app": None, "task_count": 0, "tasks": [], "problems": [], "ok": False}
    try:
        if alias is not None:  # else no app can be built: E001 says why, in one line
            app = apply_django_defaults(load_target(target))
            report = build_report(app)
            _add_webhook_urls(report)
            add_stored_schedule_state(app, report, alias)
            add_admin_schedules(app, report, alias)
            add_partition_status(app, report)
    except Exception as exc:  # bad target, or the target's module raised
        if not isinstance(exc, WorkerSetupError | ConfigurationError | ImportError):
            first_line = (str(exc).strip().splitlines() or [""])[0]
            exc = WorkerSetupError(f"cannot load {target!r}: {type(exc).__name__}: {first_line}")
        report["problems"] = [{"level": "error", "task": None, "message": str(exc)}]
    report["target"] = target or "django_onestep.project.project_app:app"
    report["django"] = django_messages
    report["ok"] = bool(report["ok"]) and not any(m["level"] == "error" for m in django_messages)
    return report


def render_django_report(report: dict[str, Any]) -> str:
    from django_onestep.connectors.redis.partition_status import render_partition_status
    from django_onestep.core.declarative.check import render_report

    lines: list[str] = []
    if report.get("app") is not None:
        core_lines = render_report(report).rstrip("\n").splitlines()
        if core_lines and core_lines[-1] in ("OK", "FAILED"):
            core_lines.pop()  # the verdict below also counts the Django checks
        lines.extend(core_lines)
        lines.extend(render_partition_status(report))
        admin_schedules = report.get("admin_schedules") or []
        if admin_schedules:
            lines.append(f"Admin-defined schedules: {len(admin_schedules)}")
        for schedule in admin_schedules:
            paused = " paused" if schedule["paused"] else ""
            upcoming = ", ".join(schedule["next_fire_times"]) or "-"
            lines.append(
                f"- {schedule['key']} task={schedule['task']} schedule={schedule['definition']!r}{paused} next={upcoming}"
            )
    else:
        lines.extend(f"error: {p['message']}" for p in report["problems"])
    if report["django"]:
        lines.append("django:")
        for message in report["django"]:
            lines.append(f"  {message['level']}: {message['id']}: {message['message']}")
            if message.get("hint"):
                lines.append(f"    hint: {message['hint']}")
    lines.append("OK" if report["ok"] else "FAILED")
    return "\n".join(lines) + "\n"
