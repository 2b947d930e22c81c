"""``manage.py onestep_import_beat``: django-celery-beat's tables (a fixture of raw SQL
rows, without the package) and ``CELERY_BEAT_SCHEDULE`` become equivalent schedules."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection

from django_onestep.models import Schedule
from django_onestep.schedules_db.admin_defined import source_for_rule

pytestmark = pytest.mark.django_db(transaction=True)

# The columns of django-celery-beat 2.x that the import reads.
TABLES = [
    "CREATE TABLE django_celery_beat_crontabschedule (id integer PRIMARY KEY, minute varchar(240), "
    "hour varchar(96), day_of_week varchar(64), day_of_month varchar(124), month_of_year varchar(64), "
    "timezone varchar(63))",
    "CREATE TABLE django_celery_beat_intervalschedule (id integer PRIMARY KEY, every integer, period varchar(24))",
    "CREATE TABLE django_celery_beat_clockedschedule (id integer PRIMARY KEY, clocked_time {datetime})",
    "CREATE TABLE django_celery_beat_periodictask (id integer PRIMARY KEY, name varchar(200), task varchar(200), "
    "args text, kwargs text, enabled bool, one_off bool, start_time {datetime} NULL, expires {datetime} NULL, "
    "crontab_id integer NULL, interval_id integer NULL, clocked_id integer NULL, solar_id integer NULL)",
]
ROWS = [
    "INSERT INTO django_celery_beat_crontabschedule VALUES (1, '30', '2', '*', '*', '*', 'Europe/Berlin')",
    "INSERT INTO django_celery_beat_crontabschedule VALUES (2, '0', '4', '*', '*', '*', 'UTC')",
    "INSERT INTO django_celery_beat_intervalschedule VALUES (1, 10, 'minutes')",
    "INSERT INTO django_celery_beat_clockedschedule VALUES (1, '2030-01-02 03:04:05')",
    "INSERT INTO django_celery_beat_periodictask VALUES (1, 'nightly', 'testproject.testapp.tasks.record', "
    "'[]', '{\"label\": \"nightly\"}', TRUE, FALSE, NULL, '2031-01-01 00:00:00', 1, NULL, NULL, NULL)",
    "INSERT INTO django_celery_beat_periodictask VALUES (2, 'every ten', 'count', '[1, 2]', '{}', TRUE, FALSE, "
    "NULL, NULL, NULL, 1, NULL, NULL)",
    "INSERT INTO django_celery_beat_periodictask VALUES (3, 'once', 'testproject.testapp.tasks.slow', '[]', "
    '\'{"label": "once"}\', TRUE, TRUE, NULL, NULL, NULL, NULL, 1, NULL)',
    "INSERT INTO django_celery_beat_periodictask VALUES (4, 'disabled', 'record', '[]', '{}', FALSE, FALSE, "
    "NULL, NULL, NULL, 1, NULL, NULL)",
    "INSERT INTO django_celery_beat_periodictask VALUES (5, 'sunrise', 'record', '[]', '{}', TRUE, FALSE, "
    "NULL, NULL, NULL, NULL, NULL, 1)",
    "INSERT INTO django_celery_beat_periodictask VALUES (6, 'elsewhere', 'billing.tasks.invoice', '[]', '{}', "
    "TRUE, FALSE, NULL, NULL, 2, NULL, NULL, NULL)",
    "INSERT INTO django_celery_beat_periodictask VALUES (7, 'celery.backend_cleanup', 'celery.backend_cleanup', "
    "'[]', '{}', TRUE, FALSE, NULL, NULL, 2, NULL, NULL, NULL)",
]


@pytest.fixture
def beat_tables() -> Iterator[None]:
    with connection.cursor() as cursor:
        # django-celery-beat's column type for a datetime, per database
        datetime_type = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime(6)"
        for statement in [table.format(datetime=datetime_type) for table in TABLES] + ROWS:
            cursor.execute(statement)
    yield
    with connection.cursor() as cursor:
        for table in ("periodictask", "crontabschedule", "intervalschedule", "clockedschedule"):
            cursor.execute(f"DROP TABLE django_celery_beat_{table}")


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("onestep_import_beat", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_django_celery_beat_tables_import_into_equivalent_schedules(beat_tables: None) -> None:
    code, out, _ = run("--from", "tables")
    assert code == 0
    rows = {row.key: row for row in Schedule.objects.all()}
    assert set(rows) == {"beat:nightly", "beat:every ten", "beat:once", "beat:disabled"}
    nightly = rows["beat:nightly"]
    assert (nightly.origin, nightly.task, nightly.definition, nightly.payload, nightly.paused) == (
        "admin",
        "record",
        "cron 30 2 * * * Europe/Berlin",
        {"label": "nightly"},
        False,
    )
    assert nightly.end_at == datetime(2031, 1, 1, tzinfo=UTC)
    source = source_for_rule(
        key="n", expression=nightly.expression, interval_s=None, timezone="Europe/Berlin", payload=None
    )
    assert source is not None and {(t.hour, t.minute) for t in source.upcoming_fire_times(3)} == {(2, 30)}
    every = rows["beat:every ten"]
    assert (every.task, every.interval_s, every.payload) == ("count", 600.0, {"args": [1, 2]})
    once = rows["beat:once"]
    assert (once.task, once.definition, once.run_requested_at) == (
        "slow",
        "one-off",
        datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert rows["beat:disabled"].paused
    assert "not mapped sunrise: a solar schedule has no equivalent" in out
    assert "not mapped elsewhere: no task named 'billing.tasks.invoice' or 'invoice' in the app" in out
    assert "not mapped celery.backend_cleanup: celery's own result cleanup: not needed" in out
    assert (
        "imported beat:every ten: every 600s UTC -> task count (positional args are in payload['args'])"
        in out
    )
    assert out.rstrip().endswith("4 imported, 3 not mapped")
    assert run("--from", "tables")[0] == 0 and Schedule.objects.count() == 4  # again: the same schedules


def test_dry_run_writes_nothing(beat_tables: None) -> None:
    code, out, _ = run("--from", "tables", "--dry-run")
    assert code == 0 and "would import beat:nightly" in out and "4 would be imported, 3 not mapped" in out
    assert not Schedule.objects.exists()


def test_missing_tables_exit_2_with_one_line() -> None:
    code, _, err = run("--from", "tables")
    assert code == 2
    assert err.startswith(
        "onestep_import_beat: cannot read django-celery-beat's tables in database 'default' ("
    )
    assert err.rstrip().endswith("pass --database, or --from settings") and err.count("\n") == 1


def crontab(minute: set[int], hour: set[int]) -> SimpleNamespace:
    """What celery's crontab exposes: each field expanded to a set of ints."""
    return SimpleNamespace(
        minute=minute,
        hour=hour,
        day_of_month=set(range(1, 32)),
        month_of_year=set(range(1, 13)),
        day_of_week={1, 2, 3, 4, 5},
    )


def test_celery_beat_schedule_setting(settings: object) -> None:
    settings.CELERY_TIMEZONE = "America/New_York"  # type: ignore[attr-defined]
    settings.CELERY_BEAT_SCHEDULE = {  # type: ignore[attr-defined]
        "weekday-mornings": {"task": "record", "schedule": crontab({0, 30}, {9}), "kwargs": {"label": "am"}},
        "every-30s": {"task": "testproject.testapp.tasks.count", "schedule": 30.0},
        "hourly": {"task": "slow", "schedule": timedelta(hours=1)},
        "wrapped": {"task": "record", "schedule": SimpleNamespace(run_every=timedelta(minutes=5))},
        "sunset": {"task": "record", "schedule": SimpleNamespace(event="sunset")},
        "broken": "not a dict",
    }
    code, out, _ = run()
    assert code == 0, out
    rows = {row.key: (row.task, row.definition) for row in Schedule.objects.all()}
    assert rows == {
        "beat:weekday-mornings": ("record", "cron 0,30 9 * * 1,2,3,4,5 America/New_York"),
        "beat:every-30s": ("count", "interval 30s America/New_York"),
        "beat:hourly": ("slow", "interval 3600s America/New_York"),
        "beat:wrapped": ("record", "interval 300s America/New_York"),
    }
    assert "not mapped sunset: schedule SimpleNamespace has no equivalent (solar?)" in out
    assert "not mapped broken: not a dict with a 'task'" in out


def test_no_setting_and_from_settings_exits_2() -> None:
    code, _, err = run("--from", "settings")
    assert code == 2
    assert (
        err
        == "onestep_import_beat: CELERY_BEAT_SCHEDULE is not set (a dict of beat entries): set it, or pass --from tables\n"
    )
