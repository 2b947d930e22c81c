"""build_report / render_report: the `check` summary and the problems it finds."""

from __future__ import annotations

from datetime import UTC, datetime

from django_onestep import (
    BearerAuth,
    CronSource,
    HttpSink,
    MaxAttempts,
    MemoryQueue,
    NoRetry,
    OneStepApp,
    WebhookSource,
)
from django_onestep.core.declarative.check import build_report, render_report
from tests.core.schedule_helpers import FakeClock


async def handler(ctx, payload):
    return payload


def test_report_shape_for_a_scheduled_task() -> None:
    app = OneStepApp("reports", shutdown_timeout_s=10)
    clock = FakeClock(datetime(2026, 1, 5, 11, 59, 30, tzinfo=UTC))
    out = HttpSink("out", url="https://user:pw@example.com/x")
    dlq = MemoryQueue("dlq")
    app.task(
        name="hourly",
        source=CronSource("0 * * * *", timezone="Asia/Shanghai", overlap="skip", clock=clock),
        emit=out,
        dead_letter=dlq,
        retry=MaxAttempts(3, delay_s=5),
        timeout_s=2.5,
        concurrency=2,
        config={"b": 1, "a": 2},
        description="hourly sync",
    )(handler)
    report = build_report(app)
    assert report == {
        "app": "reports",
        "shutdown_timeout_s": 10.0,
        "task_count": 1,
        "tasks": [
            {
                "name": "hourly",
                "description": "hourly sync",
                "handler": "tests.core.test_check.handler",
                "source": {"name": "cron:0 * * * *", "type": "CronSource"},
                "emit": [{"name": "out", "type": "HttpSink"}],
                "dead_letter": [{"name": "dlq", "type": "MemoryQueue"}],
                "concurrency": 2,
                "retry": "MaxAttempts(max_attempts=3, delay_s=5.0)",
                "timeout_s": 2.5,
                "config_keys": ["a", "b"],
                "schedule": {
                    "overlap": "skip",
                    "timezone": "Asia/Shanghai",
                    "immediate": False,
                    "expression": "0 * * * *",
                    "misfire": "run_once",
                    "next_fire_at": "2026-01-05T20:00:00+08:00",
                    "next_fire_times": [
                        "2026-01-05T20:00:00+08:00",
                        "2026-01-05T21:00:00+08:00",
                        "2026-01-05T22:00:00+08:00",
                    ],
                },
            }
        ],
        "problems": [],
        "ok": True,
    }
    assert render_report(report) == (
        "App: reports\n"
        "Shutdown timeout: 10.00s\n"
        "Tasks: 1\n"
        "- hourly source=cron:0 * * * *<CronSource> emit=out<HttpSink> dead_letter=dlq<MemoryQueue> "
        "concurrency=2 timeout=2.50s retry=MaxAttempts(max_attempts=3, delay_s=5.0)\n"
        "  handler=tests.core.test_check.handler schedule='0 * * * *' tz=Asia/Shanghai overlap=skip "
        "misfire=run_once next=2026-01-05T20:00:00+08:00, 2026-01-05T21:00:00+08:00, 2026-01-05T22:00:00+08:00\n"
        "Problems: none\n"
        "OK\n"
    )


def test_problems_are_found() -> None:
    app = OneStepApp("problems")
    queue = MemoryQueue("q")
    shared = CronSource("@daily", timezone="UTC")
    app.task(name="loops", source=queue, dead_letter=queue, retry=NoRetry())(handler)
    app.task(name="drops", source=MemoryQueue("q2"), retry=MaxAttempts(3))(handler)
    app.task(name="tick_a", source=shared)(handler)
    app.task(name="tick_b", source=shared)(handler)
    app.task(name="manual")(handler)
    app.task(name="hook_a", source=WebhookSource(path="/h", host="0.0.0.0", port=8181))(handler)
    app.task(
        name="hook_b", source=WebhookSource(path="/h/", port=8181, host="0.0.0.0", auth=BearerAuth("t"))
    )(handler)
    report = build_report(app)
    assert report["ok"] is False
    assert report["problems"] == [
        {
            "level": "error",
            "task": "loops",
            "message": "the dead_letter sink is the task's own source (failures would loop)",
        },
        {
            "level": "warning",
            "task": "drops",
            "message": "no dead_letter: items that exhaust their retries are dropped",
        },
        {
            "level": "warning",
            "task": "tick_a",
            "message": "schedule 'cron:0 0 * * *' is shared by several tasks: ticks are split",
        },
        {
            "level": "warning",
            "task": "tick_b",
            "message": "schedule 'cron:0 0 * * *' is shared by several tasks: ticks are split",
        },
        {"level": "warning", "task": "manual", "message": "no source: it runs only through run_task_once"},
        {
            "level": "warning",
            "task": "hook_a",
            "message": "webhook /h on 0.0.0.0 accepts unauthenticated requests",
        },
        {
            "level": "error",
            "task": "hook_b",
            "message": "webhook route POST 0.0.0.0:8181/h is also 'hook_a''s",
        },
    ]
    text = render_report(report)
    assert (
        "- error: task loops: the dead_letter sink is the task's own source (failures would loop)\n" in text
    )
    assert "  handler=tests.core.test_check.handler webhook=POST 0.0.0.0:8181/h auth=BearerAuth\n" in text
    assert text.endswith("FAILED\n")


def test_empty_app_is_an_error() -> None:
    report = build_report(OneStepApp("empty"))
    assert report["problems"] == [{"level": "error", "task": None, "message": "the app has no tasks"}]
    assert render_report(report).endswith("Problems: 1\n- error: the app has no tasks\nFAILED\n")


def test_dead_letter_factory_sinks_are_reported_and_silence_the_warning() -> None:
    factory_sink = MemoryQueue("dead-letters")
    app = OneStepApp("dlf", dead_letter_factory=lambda app, spec: factory_sink)
    app.task(name="covered", source=MemoryQueue("in"), retry=MaxAttempts(2))(handler)
    bare = OneStepApp("bare")
    bare.task(name="uncovered", source=MemoryQueue("in"), retry=MaxAttempts(2))(handler)

    report = build_report(app)
    [task] = report["tasks"]
    assert [sink["name"] for sink in task["dead_letter"]] == ["dead-letters"]
    assert report["problems"] == []
    assert [p["message"] for p in build_report(bare)["problems"]] == [
        "no dead_letter: items that exhaust their retries are dropped"
    ]
