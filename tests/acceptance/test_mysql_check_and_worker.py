"""A MySQL table queue whose column is misspelt: ``onestep_check`` and ``onestep_worker`` exit 2 naming it."""

from __future__ import annotations

import json

from tests.integration.mysql_tables import execute, orders_table
from tests.needs import require_module

require_module("MySQLdb")

TARGET = "tests.integration.apps.mysql_worker_app:app"


def test_check_and_worker_name_the_missing_column(manage, mysql_url: str) -> None:
    table = orders_table(mysql_url, 0)
    execute(mysql_url, f"ALTER TABLE {table} CHANGE status state VARCHAR(20) NOT NULL")
    env = {"I8_MYSQL_URL": mysql_url, "I8_TABLE": table}
    expected = f"mysql table_queue {table!r} claim: column 'status' is not in table {table!r}"
    check = manage.run("onestep_check", TARGET, "--json", env=env)
    assert check.returncode == 2, check.stdout + check.stderr
    problems = json.loads(check.stdout)["problems"]
    assert [p["message"] for p in problems if p["level"] == "error"] == [
        f"{expected} (columns: id, state, note)"
    ]
    worker = manage.run("onestep_worker", TARGET, "--once", env=env)
    assert worker.returncode == 2, worker.stdout + worker.stderr
    assert expected in worker.stdout + worker.stderr
    assert "Traceback" not in worker.stdout + worker.stderr


def test_check_passes_when_the_columns_exist(manage, mysql_url: str) -> None:
    table = orders_table(mysql_url, 0)
    check = manage.run("onestep_check", TARGET, env={"I8_MYSQL_URL": mysql_url, "I8_TABLE": table})
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_password_in_the_dsn_is_never_printed(manage, mysql_url: str) -> None:
    table = orders_table(mysql_url, 0)
    url = mysql_url.replace("root@", "root:Sup3r-s3cret@")  # the server refuses it
    env = {"I8_MYSQL_URL": url, "I8_TABLE": table}
    check = manage.run("onestep_check", TARGET, "--json", env=env)
    worker = manage.run("onestep_worker", TARGET, "--once", env=env)
    for result in (check, worker):
        assert "Sup3r-s3cret" not in result.stdout + result.stderr
    assert "Access denied" in check.stdout + check.stderr + worker.stdout + worker.stderr
