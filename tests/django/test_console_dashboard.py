"""The metrics dashboard: SVG charts per task from the per-minute windows, no script."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_onestep.console.svg_charts import Series, lines, stacked_bars
from django_onestep.models import TaskMetric

pytestmark = pytest.mark.django_db

URL = "admin:django_onestep_taskmetric_dashboard"


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    return client


def window(task: str, minutes_ago: int, **counts: object) -> None:
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    TaskMetric.objects.create(app="shop", task=task, window_start=start, **counts)


def test_each_task_gets_three_charts_and_its_totals(admin_client: Client) -> None:
    window("charge", 1, succeeded=5, failed=1, failures={"timeout": 1}, histogram=[0, 0, 4, 2] + [0] * 8)
    window("charge", 30, succeeded=3, retried=1, failures={"error": 1}, histogram=[4] + [0] * 11)
    window("charge", 120, succeeded=100)  # older than the hour
    window("refund", 2, succeeded=1, histogram=[1] + [0] * 11)
    body = admin_client.get(reverse(URL)).content.decode()
    charge = body[body.index('id="task-charge"') : body.index('id="task-refund"')]
    assert charge.count('<svg class="onestep-chart"') == 3
    assert "succeeded <strong>8</strong>" in charge and "failed <strong>1</strong>" in charge
    assert "failure rate <strong>20.0%</strong>" in charge  # (1 retried + 1 failed) / 10 ended
    assert ">timeout</text>" in charge and ">error</text>" in charge  # failures by kind
    assert "p50 ≤ <strong>0.01</strong>" in charge and "p95 ≤ <strong>0.05</strong>" in charge
    assert '<meta http-equiv="refresh" content="30">' in body
    charts = "".join(re.findall(r"<svg.*?</svg>", body, re.S))
    assert "<script" not in charts
    day = admin_client.get(reverse(URL), {"range": "1d"}).content.decode()
    assert "succeeded <strong>108</strong>" in day
    only = admin_client.get(reverse(URL), {"task": "refund"}).content.decode()
    assert 'id="task-refund"' in only and 'id="task-charge"' not in only


def test_the_dashboard_needs_view_permission_and_runs_few_queries(admin_client: Client) -> None:
    staff = get_user_model().objects.create_user("nobody", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(reverse(URL)).status_code == 403
    window("t0", 1, succeeded=1)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse(URL))
    for minute in range(2, 50):
        window(f"t{minute % 5}", minute, succeeded=1)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(reverse(URL), {"range": "1d"})
    assert len(many) == len(few) <= 10


def test_charts_escape_text_and_break_lines_on_missing_values() -> None:
    bars = stacked_bars("<b>", ["10:00", "10:01"], [Series("<script>", [1, 2])])
    assert "<script>" not in bars and "&lt;script&gt;" in bars and bars.count("<rect") == 2 + 1  # + legend
    chart = lines("d", ["a", "b", "c", "d"], [Series("p50", [1.0, None, 2.0, 3.0])])
    assert chart.count("<polyline") == 1 and chart.count("<circle") == 1  # the lone point before the gap
