"""An activity worker for ``manage.py onestep_worker tests.acceptance.stepfunctions_app:app``,
against the stand-in at ``ONESTEP_TEST_SFN_URL`` serving ``ONESTEP_TEST_SFN_ACTIVITY``."""

from __future__ import annotations

import os
from typing import Any

from django_onestep.connectors.stepfunctions import StepFunctionsConnector
from django_onestep.core.runtime.app import OneStepApp

app = OneStepApp("sfn-worker")
connector = StepFunctionsConnector(
    "us-east-1",
    endpoint_url=os.environ["ONESTEP_TEST_SFN_URL"],
    options={"aws_access_key_id": "local", "aws_secret_access_key": "local"},
)


class OutOfStock(Exception):
    pass


@app.task(source=connector.activity(os.environ["ONESTEP_TEST_SFN_ACTIVITY"], heartbeat_s=0.5), concurrency=2)
def reserve(ctx: Any, task_input: dict[str, Any]) -> dict[str, Any]:
    if task_input.get("sku") == "gone":
        raise OutOfStock(f"sku {task_input['sku']} is out of stock")
    return {"reserved": task_input["sku"], "pid": os.getpid()}
