"""Shared test plumbing.

Real servers are started by ``make test`` (``python -m tests.servers start``), which
exports their URLs. A test that needs one asks ``require_server(ENV_VAR)``: on a laptop
without the server it skips; when ``CI`` is set it fails, so CI can never go green by
skipping the tests that matter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database; on PostgreSQL, sessions left open end before it is dropped.

    PostgreSQL refuses to drop a database anyone is connected to (MariaDB and SQLite
    don't care): a queue thread a test did not close would fail the whole run's teardown.
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for pid, query in cursor.fetchall():
            print(f"\nending a PostgreSQL session left open (pid {pid}, last query {query[:200]!r})")
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
