"""A Step Functions activity served by a real ``manage.py onestep_worker`` process,
against the local stand-in of the activity API."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pytest

from tests.needs import require_module

boto3 = require_module("boto3")

pytestmark = pytest.mark.sqlite_only  # the database only keeps the dead letter


def test_the_worker_completes_and_fails_executions(manage) -> None:
    from django_onestep.models import DeadLetter
    from django_onestep.testing.stepfunctions_local import LocalStepFunctions

    with LocalStepFunctions(poll_s=1.0) as local:
        client = boto3.session.Session().client(
            "stepfunctions", region_name="us-east-1", endpoint_url=local.url, **local.credentials
        )
        activity = client.create_activity(name="reserve")["activityArn"]
        state = {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 5, "End": True}
        machine = client.create_state_machine(
            name="orders", definition=json.dumps({"StartAt": "Reserve", "States": {"Reserve": state}}),
            roleArn="arn:aws:iam::123456789012:role/x",
        )["stateMachineArn"]  # fmt: skip
        worker = manage.start(
            "onestep_worker", "tests.acceptance.stepfunctions_app:app",
            env={"ONESTEP_TEST_SFN_URL": local.url, "ONESTEP_TEST_SFN_ACTIVITY": activity},
        )  # fmt: skip
        ok = client.start_execution(stateMachineArn=machine, input='{"sku": "A-1"}')["executionArn"]
        gone = client.start_execution(stateMachineArn=machine, input='{"sku": "gone"}')["executionArn"]

        def finished(arn: str) -> dict[str, Any]:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                described = client.describe_execution(executionArn=arn)
                if described["status"] != "RUNNING":
                    return dict(described)
                time.sleep(0.05)
            raise AssertionError(f"still running:\n{worker.output()}")

        succeeded, failed = finished(ok), finished(gone)
        worker.signal(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()
    assert succeeded["status"] == "SUCCEEDED"
    assert json.loads(succeeded["output"])["reserved"] == "A-1"
    assert (failed["status"], failed["error"]) == ("FAILED", "OutOfStock")
    assert failed["cause"].startswith("sku gone is out of stock")
    # the worker's default dead-letter sink keeps the failure for the record
    [dead] = DeadLetter.objects.all()
    assert dead.task == "reserve"
