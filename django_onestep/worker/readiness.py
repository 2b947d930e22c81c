"""What ``/readyz`` asks: a small registry of readiness checks.

A check takes the ``Worker`` and returns ``(ok, detail)``; ``detail`` is any JSON value
shown under the check's name. The built-in ones:

- ``serving``: the worker is serving and not shutting down;
- ``database``: ``SELECT 1`` on ``ONESTEP["DATABASE"]``;
- ``brokers``: no task's fetches are failing (a broker or the queue table unreachable);
- ``sources``: every selected task's source that has a ``readiness()`` method says it is
  ready (a source reports, for example, the partitions it has quarantined this way,
  without importing anything of the worker's).

Another part of the project adds its own with ``register_readiness_check(name, check)``.
Checks run in threads, each with a timeout: a hung database fails its check instead of
hanging the probe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = [
    "CHECK_TIMEOUT_S",
    "ReadinessCheck",
    "evaluate",
    "register_readiness_check",
    "unregister_readiness_check",
]

ReadinessCheck = Callable[[Any], tuple[bool, Any]]

CHECK_TIMEOUT_S = 2.0


def _serving(worker: Any) -> tuple[bool, Any]:
    status = worker.app.runtime_status()
    ok = bool(status["serving"]) and not worker.stopping
    return ok, {"serving": status["serving"], "stopping": worker.stopping}


def _database(worker: Any) -> tuple[bool, Any]:
    from django.db import connections

    from django_onestep.conf import get_settings

    alias = get_settings().DATABASE
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # this is a pool thread: hold no connection between probes
    return True, {"alias": alias, "vendor": connection.vendor}


def _brokers(worker: Any) -> tuple[bool, Any]:
    tasks = worker.app.runtime_status()["tasks"]
    failing = {
        name: task["fetch_failures"]
        for name, task in tasks.items()
        if name in worker.task_names and task.get("fetch_failures")
    }
    return not failing, {"failing_fetches": failing}


def _sources(worker: Any) -> tuple[bool, Any]:
    details: dict[str, Any] = {}
    ok = True
    for spec in worker.app.tasks:
        readiness = getattr(spec.source, "readiness", None)
        if spec.name not in worker.task_names or not callable(readiness):
            continue
        report = readiness()
        details[spec.name] = report
        ok = ok and bool(report.get("ok", True))
    return ok, details


_CHECKS: dict[str, ReadinessCheck] = {
    "serving": _serving,
    "database": _database,
    "brokers": _brokers,
    "sources": _sources,
}


def register_readiness_check(name: str, check: ReadinessCheck) -> None:
    """Add (or replace) a check ``/readyz`` runs: ``check(worker) -> (ok, detail)``."""
    _CHECKS[name] = check


def unregister_readiness_check(name: str) -> None:
    _CHECKS.pop(name, None)


async def _run(name: str, check: ReadinessCheck, worker: Any) -> tuple[str, bool, Any]:
    try:
        ok, detail = await asyncio.wait_for(asyncio.to_thread(check, worker), CHECK_TIMEOUT_S)
    except TimeoutError:
        return name, False, {"error": f"no answer within {CHECK_TIMEOUT_S:g}s"}
    except Exception as exc:  # a failing check is a "not ready", never a broken probe
        return name, False, {"error": f"{type(exc).__name__}: {exc}"}
    return name, ok, detail


async def evaluate(worker: Any) -> tuple[bool, dict[str, Any]]:
    """Run every check; ``(all ok, {name: {"ok": bool, "detail": ...}})``."""
    results = await asyncio.gather(*(_run(name, check, worker) for name, check in list(_CHECKS.items())))
    checks = {name: {"ok": ok, "detail": detail} for name, ok, detail in results}
    return all(entry["ok"] for entry in checks.values()), checks
