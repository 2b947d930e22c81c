"""``onestep_check`` lists each schedule with its next three fire times in its timezone,
resuming from the stored state when there is one."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from django_onestep.models import Schedule
from django_onestep.worker.report import build_django_report, render_django_report

pytestmark = pytest.mark.django_db

TARGET = "tests.acceptance.schedule_app:app"
BERLIN = ZoneInfo("Europe/Berlin")


def schedules(report: dict) -> dict[str, dict]:
    return {task["name"]: task["schedule"] for task in report["tasks"] if "schedule" in task}


def test_each_schedule_lists_its_next_three_fire_times_in_its_timezone() -> None:
    nightly = schedules(build_django_report(TARGET))["nightly"]
    times = [datetime.fromisoformat(stamp) for stamp in nightly["next_fire_times"]]
    assert len(times) == 3 and times == sorted(times)
    assert all(t.utcoffset() == t.astimezone(BERLIN).utcoffset() for t in times)  # written in Berlin time
    assert all((t.hour, t.minute) == (2, 30) or (t.hour, t.minute) == (3, 0) for t in times)
    assert [b.date() - a.date() for a, b in itertools.pairwise(times)] == [timedelta(days=1)] * 2


def test_a_stored_schedule_resumes_from_its_next_fire_and_shows_paused() -> None:
    next_fire = timezone.now().replace(microsecond=0) + timedelta(minutes=7)
    Schedule.objects.create(
        key="schedules:every_minute",
        app="schedules",
        task="every_minute",
        definition="interval 60s UTC",
        timezone="UTC",
        paused=True,
        last_fire_at=next_fire - timedelta(minutes=1),
        next_fire_at=next_fire,
        last_outcome="failed",
        updated_at=timezone.now(),
    )
    report = build_django_report(TARGET)
    entry = schedules(report)["every_minute"]
    assert entry["next_fire_times"] == [
        (next_fire + timedelta(minutes=n)).astimezone(UTC).isoformat() for n in range(3)
    ]
    assert (entry["paused"], entry["last_outcome"]) == (True, "failed")
    (line,) = [line for line in render_django_report(report).splitlines() if "schedule='every 60.0s'" in line]
    assert " paused " in line
    assert line.endswith("next=" + ", ".join(entry["next_fire_times"]))


def test_a_stored_state_of_another_rule_is_not_used() -> None:
    stale = timezone.now() + timedelta(days=3)
    Schedule.objects.create(
        key="schedules:every_minute",
        app="schedules",
        task="every_minute",
        definition="interval 3600s UTC",
        next_fire_at=stale,
        updated_at=timezone.now(),
    )
    entry = schedules(build_django_report(TARGET))["every_minute"]
    assert datetime.fromisoformat(entry["next_fire_at"]) < stale - timedelta(days=2)


def admin_row(key: str, **fields: object) -> None:
    defaults: dict[str, object] = {
        "origin": "admin",
        "app": "testproject",
        "task": "record",
        "timezone": "UTC",
    }
    Schedule.objects.create(key=key, updated_at=timezone.now(), **{**defaults, **fields})


def test_admin_defined_schedules_are_listed_with_their_next_fires_and_problems() -> None:
    run_at = timezone.now().replace(microsecond=0) + timedelta(days=2)
    admin_row("nightly", expression="30 2 * * *", timezone="Europe/Berlin", paused=True)
    admin_row("once", run_requested_at=run_at)
    admin_row("renamed", task="gone", interval_s=60)
    admin_row("broken", expression="61 * * * *")
    report = build_django_report(None)
    listed = {entry["key"]: entry for entry in report["admin_schedules"]}
    assert list(listed) == ["broken", "nightly", "once", "renamed"]
    nightly = listed["nightly"]
    assert nightly["definition"] == "cron 30 2 * * * Europe/Berlin" and nightly["paused"]
    times = [datetime.fromisoformat(stamp) for stamp in nightly["next_fire_times"]]
    assert len(times) == 3 and all(t.utcoffset() == t.astimezone(BERLIN).utcoffset() for t in times)
    assert listed["once"]["next_fire_times"] == [run_at.isoformat()]
    warnings = [problem["message"] for problem in report["problems"] if problem["level"] == "warning"]
    assert "admin schedule 'renamed' names task 'gone', which the app does not have" in warnings
    assert any(
        w.startswith("admin schedule 'broken' is not used: invalid cron expression '61 * * * *'")
        for w in warnings
    )
    assert report["ok"]  # warnings: the workers skip these, nothing else fails
    text = render_django_report(report)
    assert "Admin-defined schedules: 4\n" in text
    assert (
        f"- nightly task=record schedule='cron 30 2 * * * Europe/Berlin' paused next={', '.join(nightly['next_fire_times'])}"
        in text
    )
