"""Shared test plumbing.

Real servers are started by ``make test`` (``python -m tests.servers start``), which
exports their URLs. A test that needs one asks ``require_server(ENV_VAR)``: on a laptop
without the server it skips; when ``CI`` is set it fails, so CI can never go green by
skipping the tests that matter.
"""

from __future__ import annotations

import pytest

from tests.needs import require_server


@pytest.fixture
def redis_url() -> str:
    return require_server("ONESTEP_TEST_REDIS_URL")


@pytest.fixture
def mysql_url() -> str:
    return require_server("ONESTEP_TEST_MYSQL_URL")


@pytest.fixture
def amqp_url() -> str:
    return require_server("ONESTEP_TEST_AMQP_URL")


@pytest.fixture
def sqs_endpoint() -> str:
    return require_server("ONESTEP_TEST_SQS_ENDPOINT")


@pytest.fixture
def pg_url() -> str:
    return require_server("ONESTEP_TEST_PG_URL")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Before pytest-django drops the PostgreSQL test database, end sessions left open.

    PostgreSQL refuses to drop a database anyone is connected to (MariaDB and SQLite
    don't care): a queue thread a test did not close would fail the whole run's teardown.
    """
    import sys

    if "django.db" not in sys.modules:
        return
    from django.db import connection

    if connection.vendor != "postgresql" or not str(connection.settings_dict["NAME"]).startswith("test_"):
        return  # not PostgreSQL, or no test database was created
    from pytest_django.plugin import blocking_manager_key

    with session.config.stash[blocking_manager_key].unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
