"""The onestep README's interval, cron and webhook examples, run with only the import
changed (``from onestep import`` -> ``from django_onestep import``).

Schedules run on a fake clock swapped into the source the example built; the webhook
example's fixed port 8080 is replaced by 0 (a free port) because test machines are
shared; nothing else in the example text changes.
"""

from __future__ import annotations

import asyncio
import textwrap
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.core.schedule_helpers import FakeClock
from tests.core.webhook_helpers import request, send_raw

INTERVAL_EXAMPLE = """
from onestep import IntervalSource, OneStepApp

app = OneStepApp("interval-demo")

@app.task(
    source=IntervalSource.every(
        hours=1,
        immediate=True,
        overlap="skip",
        payload={"job": "refresh-cache"},
    )
)
async def refresh_cache(ctx, item):
    print("scheduled at:", ctx.current.meta["scheduled_at"], "payload:", item)
"""

CRON_EXAMPLE = """
from onestep import CronSource, OneStepApp

app = OneStepApp("hourly-sync")

@app.task(source=CronSource("0 * * * *", timezone="Asia/Shanghai", overlap="skip"))
async def sync_hourly(ctx, _):
    print("running at:", ctx.current.meta["scheduled_at"])
"""

WEBHOOK_EXAMPLE = """
from onestep import BearerAuth, MemoryQueue, OneStepApp, WebhookSource

app = OneStepApp("webhook-demo")
jobs = MemoryQueue("jobs")

@app.task(
    source=WebhookSource(
        path="/webhooks/github",
        methods=("POST",),
        host="127.0.0.1",
        port=8080,
        auth=BearerAuth("replace-me"),
    ),
    emit=jobs,
)
async def ingest_github(ctx, event):
    return {
        "event": event["headers"].get("x-github-event"),
        "payload": event["body"],
    }
"""


def load_example(text: str, **replacements: str) -> dict[str, Any]:
    code = textwrap.dedent(text).replace("from onestep import", "from django_onestep import")
    for old, new in replacements.items():
        code = code.replace(old, new)
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(code, "<readme example>", "exec"), namespace)
    return namespace


async def serve_until(app: Any, condition, step) -> None:
    """Serve in the background, call ``step()`` until ``condition()``, then shut down."""
    serving = asyncio.create_task(app.serve())
    try:
        for _ in range(600):
            if condition():
                break
            if serving.done():
                serving.result()
            await step()
        else:
            pytest.fail("example did not produce the expected effect")
    finally:
        app.request_shutdown()
        await asyncio.wait_for(serving, timeout=30)


async def test_interval_example(capsys: pytest.CaptureFixture[str]) -> None:
    ns = load_example(INTERVAL_EXAMPLE)
    app = ns["app"]
    source = app.tasks[0].source
    clock = FakeClock(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    source.clock = clock
    source.timezone = UTC  # the machine's zone otherwise; pinned for an exact assertion
    printed: list[str] = []

    def seen() -> bool:
        printed.extend(line for line in capsys.readouterr().out.splitlines() if line)
        return len(printed) >= 2

    async def step() -> None:
        # one hour passes only after the immediate tick ran
        if len(printed) == 1 and clock.current.hour == 12:
            clock.advance(hours=1)
        await asyncio.sleep(0.05)

    await serve_until(app, seen, step)
    assert printed == [
        "scheduled at: 2026-01-05T12:00:00+00:00 payload: {'job': 'refresh-cache'}",
        "scheduled at: 2026-01-05T13:00:00+00:00 payload: {'job': 'refresh-cache'}",
    ]


async def test_cron_example(capsys: pytest.CaptureFixture[str]) -> None:
    ns = load_example(CRON_EXAMPLE)
    app = ns["app"]
    clock = FakeClock(datetime(2026, 1, 5, 11, 59, 0, tzinfo=UTC))
    app.tasks[0].source.clock = clock
    printed: list[str] = []

    def seen() -> bool:
        printed.extend(line for line in capsys.readouterr().out.splitlines() if line)
        return len(printed) >= 2

    async def step() -> None:
        # 12:00 UTC (20:00 in Shanghai) comes due, then 13:00 once the first ran
        target = datetime(2026, 1, 5, 12 + len(printed), 0, tzinfo=UTC)
        if clock.current < target:
            clock.set(target)
        await asyncio.sleep(0.05)

    await serve_until(app, seen, step)
    assert printed == [
        "running at: 2026-01-05T20:00:00+08:00",
        "running at: 2026-01-05T21:00:00+08:00",
    ]


async def test_webhook_example() -> None:
    ns = load_example(WEBHOOK_EXAMPLE, **{"port=8080": "port=0"})
    app, jobs = ns["app"], ns["jobs"]
    source = app.tasks[0].source
    received: list[Any] = []
    answers: list[int] = []

    async def step() -> None:
        if not answers and source.is_open:
            response = await send_raw(
                source.bound_port,
                request(
                    "POST",
                    "/webhooks/github",
                    b'{"zen": "Keep it logically awesome."}',
                    {
                        "Authorization": "Bearer replace-me",
                        "Content-Type": "application/json",
                        "X-GitHub-Event": "ping",
                    },
                ),
            )
            answers.append(response.status)
        received.extend(d.payload for d in await jobs.fetch(10))
        await asyncio.sleep(0.02)

    await serve_until(app, lambda: bool(received), step)
    assert answers == [202]
    assert received == [{"event": "ping", "payload": {"zen": "Keep it logically awesome."}}]
