"""The real schema on the test database (SQLite, MariaDB, PostgreSQL): indexes exist, in order,
and the claim and lease queries use them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from django_onestep.dbqueue.claims import dt
from django_onestep.models import Cursor, DeadLetter, Job, StateEntry, TaskMetric, WorkerHeartbeat

pytestmark = pytest.mark.django_db(transaction=True)


def constraints(model: type) -> dict[str, dict[str, object]]:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, model._meta.db_table)


def test_job_claim_index_exists_with_descending_priority() -> None:
    job = constraints(Job)
    claim = job["onestep_job_claim"]
    assert claim["columns"] == ["queue", "status", "priority", "id", "available_at"]
    if connection.features.supports_index_column_ordering:
        assert claim["orders"] == ["ASC", "ASC", "DESC", "ASC", "ASC"]
    assert job["onestep_job_lease"]["columns"] == ["status", "lease_until"]
    assert job["onestep_job_prune"]["columns"] == ["status", "finished_at"]
    dedupe = job["onestep_job_dedupe"]
    assert dedupe["columns"] == ["queue", "dedupe_key"] and dedupe["unique"] is True


def test_admin_and_lookup_indexes_exist() -> None:
    assert constraints(DeadLetter)["onestep_dl_task"]["columns"] == ["task", "status", "id"]
    assert constraints(DeadLetter)["onestep_dl_last_failed"]["columns"] == ["last_failed_at"]
    metric = constraints(TaskMetric)
    assert metric["onestep_metric_window"]["columns"] == ["app", "task", "window_start"]
    assert metric["onestep_metric_window"]["unique"] is True
    assert constraints(WorkerHeartbeat)["onestep_worker_seen"]["columns"] == ["last_seen"]
    for model in (StateEntry, Cursor):
        assert any(c["columns"] == ["key"] and c["unique"] for c in constraints(model).values())


def _plan(sql: str, params: list[object]) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return " ".join(str(row[-1]) for row in cursor.fetchall())
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN " + sql, params)
            return " ".join(str(row[0]) for row in cursor.fetchall())
        cursor.execute("EXPLAIN " + sql, params)
        names = [col[0] for col in cursor.description]
        return " ".join(str(dict(zip(names, row, strict=True)).get("key")) for row in cursor.fetchall())


def _postgres_table_like_production(table: str) -> None:
    """PostgreSQL plans by statistics: an empty, never analysed table is scanned whole."""
    done = "'done', '', now(), NULL"
    running = "'running', '', NULL, now() + interval '1 hour'"
    with connection.cursor() as cursor:
        for rows, status in ((2000, done), (200, running)):
            cursor.execute(
                f"INSERT INTO {table} (queue, payload, meta, attempts, reclaims, priority, available_at, "
                f"created_at, updated_at, status, last_error, finished_at, lease_until) "
                f"SELECT 'other', '{{}}', '{{}}', 0, 0, 0, now(), now(), now(), {status} "
                f"FROM generate_series(1, {rows})"
            )
        cursor.execute(f"ANALYZE {table}")


def test_claim_and_lease_queries_use_their_indexes() -> None:
    now = dt(connection, timezone.now())
    table = connection.ops.quote_name(Job._meta.db_table)
    if connection.vendor == "postgresql":
        _postgres_table_like_production(table)
    claim = _plan(
        f"SELECT id FROM {table} WHERE queue = %s AND status = 'queued' AND available_at <= %s "
        "ORDER BY priority DESC, id LIMIT 100",
        ["q", now],
    )
    assert "onestep_job_claim" in claim
    lease = _plan(f"SELECT id FROM {table} WHERE status = 'running' AND lease_until < %s", [now])
    assert "onestep_job_lease" in lease
