"""Migration 0012: the lease and per-key indexes of ``Job`` hold only running rows where the
database has partial indexes, stay full on MySQL/MariaDB, and the migration reverses."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)

migration = importlib.import_module("django_onestep.migrations.0012_partial_job_indexes")
NAMES = ("onestep_job_lease", "onestep_job_key")


def definition(name: str) -> str:
    """The index's SQL as the database reports it ("" where it does not keep one)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s", [name])
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        else:
            return ""
        (row,) = cursor.fetchall()
        return str(row[0])


def columns(name: str) -> list[Any]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "django_onestep_job")
    return list(found[name]["columns"])


def test_the_lease_and_key_indexes_keep_running_rows_only_where_the_database_can() -> None:
    assert columns("onestep_job_lease") == ["status", "lease_until"]
    assert columns("onestep_job_key") == ["queue", "concurrency_key", "status"]
    if not connection.features.supports_partial_indexes:
        return  # MySQL/MariaDB: the full indexes checked above stay
    lease, key = (definition(name) for name in NAMES)
    assert " WHERE " in lease and "'running'" in lease, lease
    assert (
        " WHERE " in key and "'running'" in key and "concurrency_key IS NOT NULL" in key.replace('"', "")
    ), key


def test_the_migration_reverses_to_full_indexes_and_back() -> None:
    if not connection.features.supports_partial_indexes:
        pytest.skip(f"{connection.vendor} has no partial indexes: the migration does nothing there")
    with connection.schema_editor() as editor:
        migration.make_full(apps, editor)
    try:
        assert all(" WHERE " not in definition(name) for name in NAMES)
        assert columns("onestep_job_key") == ["queue", "concurrency_key", "status"]
    finally:
        with connection.schema_editor() as editor:
            migration.make_partial(apps, editor)
    assert all(" WHERE " in definition(name) for name in NAMES)
