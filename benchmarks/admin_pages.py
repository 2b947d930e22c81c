"""Time the operations console at scale: 1,000,000 jobs and 100,000 dead letters on MariaDB.

    source .services/env && .venv/bin/python benchmarks/admin_pages.py

Loads the rows into a fresh ``bench_admin_<pid>`` database on the server named by
``ONESTEP_TEST_MYSQL_URL`` (with MariaDB's ``seq_1_to_N`` tables: seconds, not
minutes), then requests every admin list page, the queue overview, details and the
endpoints as a logged-in superuser, and prints the best of ``--repeat`` timings and
the number of SQL queries of each. It fails (exit 1) when a page runs more than
``--max-queries`` queries; timings are printed, not asserted (they move with the load
of the machine). The database is dropped after.

Metric windows: 20 tasks, one per minute over two days. The job mix: 95% done (finished over the last 11 days), 2% queued (a tenth of them
delayed), 1% each failed, dead and running, over 10 queues.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent

JOBS_SQL = """
INSERT INTO django_onestep_job (queue, status, priority, payload, meta, attempts, reclaims,
    available_at, created_at, updated_at, claimed_at, finished_at, last_error)
SELECT CONCAT('bench.q', seq % 10),
    CASE WHEN seq % 100 < 95 THEN 'done' WHEN seq % 100 < 97 THEN 'queued'
         WHEN seq % 100 = 97 THEN 'failed' WHEN seq % 100 = 98 THEN 'dead' ELSE 'running' END,
    0, JSON_OBJECT('n', seq), '{{}}', 1, 0,
    IF(seq % 1000 = 960, NOW(6) + INTERVAL 1 HOUR, NOW(6) - INTERVAL ({n} - seq) SECOND),
    NOW(6) - INTERVAL ({n} - seq) SECOND, NOW(6) - INTERVAL ({n} - seq) SECOND,
    IF(seq % 100 < 95 OR seq % 100 > 96, NOW(6) - INTERVAL ({n} - seq) SECOND, NULL),
    IF(seq % 100 < 95 OR seq % 100 BETWEEN 97 AND 98, NOW(6) - INTERVAL ({n} - seq) SECOND + INTERVAL 0.2 SECOND, NULL),
    IF(seq % 100 BETWEEN 97 AND 98, 'RuntimeError: card declined', '')
FROM seq_1_to_{n}
"""

DEAD_LETTERS_SQL = """
INSERT INTO django_onestep_deadletter (app, task, source, payload, original_meta, attempts,
    failure_kind, exception_type, message, traceback, job_id, status, first_failed_at,
    last_failed_at, resolved_by, resolution)
SELECT 'bench', CONCAT('task', seq % 20), CONCAT('bench.q', seq % 10), JSON_OBJECT('n', seq), '{{}}', 2,
    IF(seq % 3 = 0, 'timeout', 'error'), IF(seq % 2 = 0, 'ValueError', 'RuntimeError'),
    'bad input', 'Traceback (most recent call last):\\n  boom', seq,
    IF(seq % 10 = 0, 'resolved', 'pending'),
    NOW(6) - INTERVAL ({n} - seq) * 10 SECOND, NOW(6) - INTERVAL ({n} - seq) * 10 SECOND, '', ''
FROM seq_1_to_{n}
"""

METRICS_SQL = """
INSERT INTO django_onestep_taskmetric (app, task, window_start, fetched, started, succeeded, retried,
    failed, dead_lettered, cancelled, failures, duration_count, duration_sum_s, duration_max_s,
    histogram, updated_at)
SELECT 'bench', CONCAT('task', seq % 20),
    DATE_FORMAT(NOW() - INTERVAL (seq DIV 20) MINUTE, '%Y-%m-%d %H:%i:00'),
    60, 60, 55, 3, 2, 1, 0, JSON_OBJECT('error', 2, 'timeout', 3), 60, 6.0, 0.9,
    '[5, 20, 20, 10, 3, 2, 0, 0, 0, 0, 0, 0]', NOW(6)
FROM seq_0_to_{last}
"""

PAGES = [
    ("jobs", "admin:django_onestep_job_changelist", ""),
    ("jobs, status=queued", "admin:django_onestep_job_changelist", "?status__exact=queued"),
    ("jobs, status=failed", "admin:django_onestep_job_changelist", "?status__exact=failed"),
    ("jobs, queue=bench.q3", "admin:django_onestep_job_changelist", "?queue=bench.q3"),
    ("jobs, search id", "admin:django_onestep_job_changelist", "?q={job}"),
    ("jobs, page 100", "admin:django_onestep_job_changelist", "?p=100"),
    ("queue overview", "admin:django_onestep_job_overview", ""),
    ("dead letters", "admin:django_onestep_deadletter_changelist", ""),
    ("dead letters, pending", "admin:django_onestep_deadletter_changelist", "?status__exact=pending"),
    ("dead letters, task=task7", "admin:django_onestep_deadletter_changelist", "?task__exact=task7"),
    (
        "dead letters, kind=timeout",
        "admin:django_onestep_deadletter_changelist",
        "?failure_kind__exact=timeout",
    ),
    ("dead letters, search", "admin:django_onestep_deadletter_changelist", "?q=ValueError"),
    ("dead letters, by day", "admin:django_onestep_deadletter_changelist", "?last_failed_at__year=2020"),
    ("job detail", "admin:django_onestep_job_change", "{job}"),
    ("dead letter detail", "admin:django_onestep_deadletter_change", "{dead_letter}"),
    ("heartbeats", "admin:django_onestep_workerheartbeat_changelist", ""),
    ("metric windows", "admin:django_onestep_taskmetric_changelist", ""),
    ("dashboard, last hour", "admin:django_onestep_taskmetric_dashboard", ""),
    ("dashboard, last day", "admin:django_onestep_taskmetric_dashboard", "?range=1d"),
    ("health/", "django_onestep:health", ""),
    ("metrics/", "django_onestep:metrics", ""),
]


def setup_django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def load(jobs: int, dead_letters: int) -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(JOBS_SQL.format(n=jobs))
        cursor.execute(DEAD_LETTERS_SQL.format(n=dead_letters))
        cursor.execute(METRICS_SQL.format(last=20 * 60 * 24 * 2 - 1))  # 20 tasks, two days of minutes
        cursor.execute(
            "ANALYZE TABLE django_onestep_job, django_onestep_deadletter, django_onestep_taskmetric"
        )
        cursor.fetchall()
    took = time.perf_counter() - started
    print(f"loaded {jobs:,} jobs, {dead_letters:,} dead letters, 57,600 metric windows in {took:.1f} s")


def time_pages(repeat: int, max_queries: int, ids: dict[str, int]) -> bool:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.urls import reverse

    settings.ALLOWED_HOSTS = ["*"]
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("bench", "b@example.com", "pw"))
    token = "bench-token-0123456789"
    ok = True
    print(f"| page | best of {repeat} | queries |\n|---|---|---|")
    with override_settings(ONESTEP={"APP_NAME": "testproject", "METRICS_TOKEN": token}):
        for label, name, tail in PAGES:
            tail = tail.format(**ids)
            url = reverse(name, args=[tail]) if tail.isdigit() else reverse(name) + tail
            best, queries = float("inf"), 0
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
                    best = min(best, time.perf_counter() - started)
                queries = len(captured)
            if response.status_code not in (200, 503):
                print(f"{label}: HTTP {response.status_code}")
                ok = False
            if queries > max_queries:
                ok = False
            print(f"| {label} | {best * 1000:.0f} ms | {queries} |")
    return ok


def time_bulk_actions() -> None:
    """Admin actions with "select all" on a filtered list, as an operator runs them."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from django_onestep.models import Job

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    for action, query, rows in [
        ("requeue_selected", "?status__exact=failed", Job.objects.filter(status="failed")),
        ("cancel_selected", "?status__exact=queued", Job.objects.filter(status="queued")),
        ("delete_finished_selected", "?queue=bench.q3", Job.objects.filter(queue="bench.q3")),
    ]:
        selected, count = rows.values_list("id", flat=True).first(), rows.count()
        started = time.perf_counter()
        client.post(
            reverse("admin:django_onestep_job_changelist") + query,
            {"action": action, "_selected_action": [str(selected)], "select_across": "1"},
        )
        took = time.perf_counter() - started
        print(f"{action} on {query[1:]} (select all, {count:,} rows): {took:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--dead-letters", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-queries", type=int, default=15)
    args = parser.parse_args()
    base = os.environ.get("ONESTEP_TEST_MYSQL_URL")
    if not base:
        raise SystemExit("needs ONESTEP_TEST_MYSQL_URL (source .services/env)")
    import MySQLdb

    parts = urlsplit(base)
    name = f"bench_admin_{os.getpid()}"
    server = MySQLdb.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                             passwd=parts.password or "")  # fmt: skip
    server.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        setup_django(urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, "")))
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        load(args.jobs, args.dead_letters)
        ok = time_pages(
            args.repeat, args.max_queries, {"job": args.jobs // 2, "dead_letter": args.dead_letters // 2}
        )
        time_bulk_actions()
    finally:
        server.cursor().execute(f"DROP DATABASE {name}")
        server.close()
    if not ok:
        raise SystemExit(f"a page failed or ran more than {args.max_queries} queries")


if __name__ == "__main__":
    main()
