"""``manage.py onestep_check`` and ``manage.py check`` run for real in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.acceptance.conftest import MANAGE_PY, ROOT

BROKEN = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.broken_settings"}


def test_json_document_describes_the_project_app(manage) -> None:
    result = manage.run("onestep_check", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["app"] == "testproject"
    assert report["target"] == "django_onestep.project.project_app:app"
    assert [task["name"] for task in report["tasks"]] == ["record", "always_fails", "count", "slow"]
    record = report["tasks"][0]
    assert record["source"] == {"name": "testapp.work", "type": "DatabaseQueue"}
    assert record["dead_letter"] == [{"name": "dead_letters:record", "type": "DatabaseDeadLetters"}]
    assert report["problems"] == []
    assert report["django"] == []


def test_text_summary(manage) -> None:
    result = manage.run("onestep_check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("App: testproject\n")
    assert "- record source=testapp.work<DatabaseQueue>" in result.stdout
    assert result.stdout.endswith("OK\n")


def test_broken_setting_exits_2_naming_the_key(manage) -> None:
    text = manage.run("onestep_check", env=BROKEN)
    assert text.returncode == 2
    assert 'django_onestep.E001: ONESTEP["LEASE_S"]: must be > 0, got -1' in text.stdout
    assert text.stdout.endswith("FAILED\n")
    as_json = manage.run("onestep_check", "--json", env=BROKEN)
    assert as_json.returncode == 2
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert report["django"][0]["id"] == "django_onestep.E001"
    assert report["django"][0]["message"] == 'ONESTEP["LEASE_S"]: must be > 0, got -1'


def test_bad_target_exits_2(manage) -> None:
    result = manage.run("onestep_check", "--json", "no_such_module:app")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert "no_such_module" in report["problems"][0]["message"]


def test_missing_tables_exit_2_with_e007(tmp_path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "onestep_check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "django_onestep.E007: django-onestep tables are missing in database 'default'" in result.stdout
    assert "hint: Run: python manage.py migrate django_onestep --database default" in result.stdout
    worker = subprocess.run(
        [sys.executable, str(MANAGE_PY), "onestep_worker", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert worker.returncode == 2
    assert "django-onestep tables are missing" in worker.stderr


def test_manage_py_check_reports_misconfiguration(manage) -> None:
    result = manage.run("check", env=BROKEN)
    assert result.returncode == 1
    assert "django_onestep.E001" in result.stderr
    assert 'ONESTEP["LEASE_S"]: must be > 0, got -1' in result.stderr


def test_target_raising_at_import_exits_2_with_one_line(manage) -> None:
    result = manage.run("onestep_check", "tests.acceptance.import_error_app:app")
    assert result.returncode == 2
    assert (
        "error: cannot load 'tests.acceptance.import_error_app:app': NameError: name 'undefined_queue' is not defined"
        in result.stdout
    )
    assert "Traceback" not in result.stdout + result.stderr
