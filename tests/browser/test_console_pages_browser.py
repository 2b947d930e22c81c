"""The console's other pages in a real browser: the dashboard draws its charts, a task pauses."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import Job, TaskMetric, WorkerHeartbeat
from tests.browser.conftest import Browser, staff


def test_the_dashboard_renders_its_charts(browser: Browser) -> None:
    staff("watcher", "view_taskmetric")
    now = timezone.now().replace(second=0, microsecond=0)
    for minute in range(40):
        TaskMetric.objects.create(
            app="shop", task="charge", window_start=now - timedelta(minutes=minute),
            succeeded=20 + minute % 7, retried=minute % 4, failed=minute % 5 == 0,
            failures={"timeout": minute % 4, "error": int(minute % 5 == 0)},
            histogram=[2, 6, 8, 3 + minute % 3, 1] + [0] * 7,
        )  # fmt: skip
    browser.login("watcher", "pw")
    browser.open("/admin/django_onestep/taskmetric/")
    browser.css("a.onestep-dashboard").click()
    browser.wait_for_text("failure rate")
    charts = browser.all("#task-charge svg.onestep-chart")
    assert len(charts) == 3
    assert all(chart.size["width"] > 300 and chart.size["height"] > 100 for chart in charts)
    assert len(browser.all("#task-charge svg.onestep-chart rect")) > 20  # bars drawn
    assert len(browser.all("#task-charge svg.onestep-chart polyline")) == 2  # p50 and p95
    browser.screenshot("metrics-dashboard")


def test_jobs_queues_workers_and_tasks_pages_render(browser: Browser) -> None:
    staff("looker", "view_job", "change_job", "view_workerheartbeat", "view_pausedtask", "change_pausedtask")
    now = timezone.now()
    for n in range(6):
        job_id = DatabaseQueue("testapp.work").send({"label": f"job-{n}"})
        status = ["queued", "done", "failed", "dead", "done", "queued"][n]
        Job.objects.filter(id=job_id).update(
            status=status, attempts=n % 3 + 1, claimed_at=now - timedelta(seconds=2), finished_at=now,
            last_error="RuntimeError: card declined" if status in ("failed", "dead") else "",
        )  # fmt: skip
    WorkerHeartbeat.objects.create(worker_id="web-1:4242:ab12cd34", app="testproject", host="web-1", pid=4242,
                                   tasks=["record"], version="0.1.0", in_flight=2, started_at=now - timedelta(hours=3),
                                   last_seen=now)  # fmt: skip
    browser.login("looker", "pw")
    browser.open("/admin/django_onestep/job/")
    browser.wait_for_text("card declined")
    browser.screenshot("jobs-list")
    browser.css("a.onestep-queue-overview").click()
    browser.wait_for_text("testapp.work")
    assert browser.all("#onestep-queues tbody tr")
    browser.screenshot("queue-overview")
    browser.open("/admin/django_onestep/workerheartbeat/")
    browser.wait_for_text("web-1:4242:ab12cd34")
    assert "live" in browser.text()
    browser.screenshot("workers")
    browser.open("/admin/django_onestep/pausedtask/")
    browser.wait_for_text("always_fails")
    browser.css("#task-slow input.onestep-pause").click()
    browser.wait_for_text("Task slow paused")
    assert "paused by looker" in browser.css("#task-slow").text
    browser.screenshot("tasks")
