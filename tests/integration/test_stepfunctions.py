"""Step Functions activities against the local stand-in of the activity API
(``django_onestep.testing.stepfunctions_local``), through boto3 unchanged.

moto's server does not implement ``GetActivityTask``; the stand-in speaks the same
JSON protocol as AWS, enforces ``HeartbeatSeconds`` and the service's size limits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from django_onestep.connectors.stepfunctions import StepFunctionsConnector
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.testing.stepfunctions_local import LocalStepFunctions
from tests.needs import require_module

boto3 = require_module("boto3")


@pytest.fixture
def sfn() -> Iterator[LocalStepFunctions]:
    with LocalStepFunctions(poll_s=1.0) as service:
        yield service


def _client(sfn: LocalStepFunctions) -> Any:
    return boto3.session.Session().client(
        "stepfunctions", region_name="us-east-1", endpoint_url=sfn.url, **sfn.credentials
    )


def _machine(client: Any, name: str, *, heartbeat_s: int = 5) -> tuple[str, str]:
    activity = client.create_activity(name=f"{name}-activity")["activityArn"]
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": activity, "HeartbeatSeconds": heartbeat_s, "End": True}
        },
    }
    machine = client.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]
    return activity, machine


def _run_until_finished(
    sfn: LocalStepFunctions,
    register: Callable[[OneStepApp, Any], None],
    payload: Any,
    *,
    name: str,
    heartbeat_s: float | None = 0.5,
    state_heartbeat_s: int = 5,
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    client = _client(sfn)
    activity_arn, machine = _machine(client, name, heartbeat_s=state_heartbeat_s)
    connector = StepFunctionsConnector("us-east-1", endpoint_url=sfn.url, options=sfn.credentials)
    app = OneStepApp(name)
    register(app, connector.activity(activity_arn, heartbeat_s=heartbeat_s))
    execution = client.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]

    async def main() -> dict[str, Any]:
        serving = asyncio.create_task(app.serve())
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                described = await asyncio.to_thread(client.describe_execution, executionArn=execution)
                if described["status"] != "RUNNING":
                    return dict(described)
                await asyncio.sleep(0.05)
            raise AssertionError(f"the execution still runs after {timeout_s}s")
        finally:
            app.request_shutdown()
            await asyncio.wait_for(serving, 15)
            await connector.close()

    return asyncio.run(main())


def test_an_activity_task_completes_with_the_handlers_output(sfn: LocalStepFunctions) -> None:
    def register(app: OneStepApp, source: Any) -> None:
        @app.task(source=source)
        async def double(ctx: Any, task_input: dict[str, Any]) -> dict[str, Any]:
            return {"doubled": task_input["n"] * 2, "arn": ctx.current.meta["stepfunctions"]["activity_arn"]}

    described = _run_until_finished(sfn, register, {"n": 21}, name="double")
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["doubled"] == 42
    assert output["arn"].endswith(":activity:double-activity")


class OrderRejected(Exception):
    pass


def echo(ctx: Any, task_input: Any) -> Any:
    return task_input


def test_a_failing_handler_fails_the_execution_with_the_error_name(sfn: LocalStepFunctions) -> None:
    def register(app: OneStepApp, source: Any) -> None:
        @app.task(source=source)
        def reject(ctx: Any, task_input: dict[str, Any]) -> None:
            raise OrderRejected(f"order {task_input['order']} is out of stock")

    described = _run_until_finished(sfn, register, {"order": 7}, name="reject")
    assert (described["status"], described["error"]) == ("FAILED", "OrderRejected")
    assert described["cause"].startswith("order 7 is out of stock\n\nTraceback")


def test_ctx_fail_reports_a_business_failure_with_its_cause_capped(sfn: LocalStepFunctions) -> None:
    def register(app: OneStepApp, source: Any) -> None:
        @app.task(source=source)
        async def check(ctx: Any, task_input: dict[str, Any]) -> str:
            ctx.fail("CreditLimitExceeded", "x" * 40_000)  # AWS refuses causes over 32 KiB
            return "not sent"

    described = _run_until_finished(sfn, register, {}, name="credit")
    assert (described["status"], described["error"]) == ("FAILED", "CreditLimitExceeded")
    assert len(described["cause"]) == 32_768
    assert described["cause"].endswith("more characters cut]")


def test_a_result_over_256_kib_is_reported_as_a_failure(sfn: LocalStepFunctions) -> None:
    def register(app: OneStepApp, source: Any) -> None:
        @app.task(source=source)
        async def big(ctx: Any, task_input: Any) -> str:
            return "y" * 300_000

    described = _run_until_finished(sfn, register, {}, name="big")
    assert (described["status"], described["error"]) == ("FAILED", "onestep.ResultTooLarge")
    assert "over Step Functions' 262144" in described["cause"]


def test_heartbeats_keep_a_task_longer_than_its_heartbeat_timeout_alive(sfn: LocalStepFunctions) -> None:
    # 3.5 s of work against HeartbeatSeconds=1: three timeouts' worth, as the 15 s against
    # 5 s that benchmarks/pool.py runs at full length
    def register(app: OneStepApp, source: Any) -> None:
        @app.task(source=source)
        def slow(ctx: Any, task_input: Any) -> str:
            time.sleep(3.5)  # a sync handler: the heartbeats come from the event loop
            return "done"

    described = _run_until_finished(sfn, register, {}, name="slow", heartbeat_s=0.25, state_heartbeat_s=1)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", "done")
    assert sfn.heartbeats >= 10


def test_without_heartbeats_the_same_task_times_out(
    sfn: LocalStepFunctions, caplog: pytest.LogCaptureFixture
) -> None:
    def register(app: OneStepApp, source: Any) -> None:
        @app.task(source=source)
        async def slow(ctx: Any, task_input: Any) -> str:
            await asyncio.sleep(2.5)
            return "too late"

    with caplog.at_level(logging.WARNING, logger="django_onestep.connectors.stepfunctions"):
        described = _run_until_finished(
            sfn, register, {}, name="silent", heartbeat_s=None, state_heartbeat_s=1
        )
        assert (described["status"], described["error"]) == ("TIMED_OUT", "States.Timeout")
        # the handler finishes after the timeout: its late report is refused and logged
        deadline = time.monotonic() + 5
        while "timed out before its outcome was reported" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "timed out before its outcome was reported (TaskTimedOut)" in caplog.text


@pytest.mark.parametrize(
    ("arn", "heartbeat_s", "message"),
    [
        ("arn:aws:sqs:x", 1.0, "arn must be an activity ARN"),
        ("arn:aws:states:us-east-1:1:activity:a", 0, "heartbeat_s"),
    ],
)
def test_activity_options_are_checked(arn: str, heartbeat_s: float, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        StepFunctionsConnector("us-east-1").activity(arn, heartbeat_s=heartbeat_s)


async def test_ctx_fail_on_a_source_that_cannot_report_failures_says_so() -> None:
    from django_onestep.core.runtime.memory import MemoryQueue

    app = OneStepApp("plain")
    queue = MemoryQueue("plain")
    errors: list[str] = []

    @app.task(source=queue)
    async def handler(ctx: Any, payload: Any) -> None:
        try:
            ctx.fail("Nope", "")
        except RuntimeError as exc:
            errors.append(str(exc))

    await queue.publish(1)
    await app.serve(until_idle=True)
    assert errors == [
        "fail() needs a source that reports failures to its broker (a Step Functions activity); "
        "task 'handler' has none: raise an exception instead"
    ]


def test_a_task_received_by_a_poll_outliving_the_shutdown_is_released(sfn: LocalStepFunctions) -> None:
    client = _client(sfn)
    activity_arn, machine = _machine(client, "released")
    connector = StepFunctionsConnector("us-east-1", endpoint_url=sfn.url, options=sfn.credentials)
    app = OneStepApp("released")
    ran: list[Any] = []
    app.task(source=connector.activity(activity_arn), name="never")(lambda ctx, task_input: ran.append(1))

    async def serve_then_stop() -> None:
        serving = asyncio.create_task(app.serve())
        await asyncio.sleep(0.3)  # the runner's poll is out, waiting for a task
        app.request_shutdown()
        await asyncio.wait_for(serving, 5)

    asyncio.run(serve_then_stop())
    # the stopped worker's poll still waits on the service: it receives this task
    execution = client.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deadline = time.monotonic() + 5
    while (
        client.describe_execution(executionArn=execution)["status"] == "RUNNING"
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    described = client.describe_execution(executionArn=execution)
    assert (described["status"], described["error"]) == ("FAILED", "onestep.Released")
    assert ran == []


def test_preflight_refuses_an_activity_that_does_not_exist(sfn: LocalStepFunctions) -> None:
    activity_arn, _ = _machine(_client(sfn), "exists")
    connector = StepFunctionsConnector("us-east-1", endpoint_url=sfn.url, options=sfn.credentials)
    connector.activity(activity_arn).preflight()  # no error
    missing = activity_arn.replace("exists-activity", "missing")
    with pytest.raises(ConfigurationError) as info:
        connector.activity(missing).preflight()
    assert str(info.value) == (
        f"Step Functions activity {missing}: ActivityDoesNotExist: "
        "create the activity, or fix its ARN, region or credentials"
    )


def test_yaml_declares_an_activity(tmp_path: Path, sfn: LocalStepFunctions) -> None:
    from django_onestep.core.declarative.loader import load_yaml_app

    activity_arn, _ = _machine(_client(sfn), "yaml")
    path = tmp_path / "app.yaml"
    path.write_text(
        f"""
        app: {{name: yaml-sfn}}
        resources:
          aws: {{type: stepfunctions, region_name: us-east-1, endpoint_url: "{sfn.url}"}}
          work: {{type: stepfunctions_activity, connector: aws, arn: "{activity_arn}", heartbeat_s: 2.5}}
        tasks: [{{name: work, source: work, handler: "tests.integration.test_stepfunctions:echo"}}]
        """
    )
    [task] = load_yaml_app(path).tasks
    assert (task.source.arn, task.source.heartbeat_s) == (activity_arn, 2.5)
