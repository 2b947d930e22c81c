"""A local stand-in for the Step Functions activity API, for tests.

moto's Step Functions does not implement ``GetActivityTask``, so activity workers
cannot be tested against it. This server speaks the real AWS JSON 1.0 protocol
(``POST /`` with ``X-Amz-Target: AWSStepFunctions.<Operation>``), so boto3 talks to it
unchanged through ``endpoint_url`` and the connector code under test is the code that
runs against AWS::

    with LocalStepFunctions() as sfn:
        connector = StepFunctionsConnector("us-east-1", endpoint_url=sfn.url, options=sfn.credentials)

Operations: ``CreateActivity``, ``DescribeActivity``, ``CreateStateMachine``, ``StartExecution``,
``DescribeExecution``, ``GetActivityTask`` (a long poll, ``poll_s`` long: 60 s on AWS),
``SendTaskSuccess``, ``SendTaskFailure``, ``SendTaskHeartbeat``. A state machine here is
one ``Task`` state on an activity (its ``HeartbeatSeconds`` and ``TimeoutSeconds`` are
enforced: a task that misses them times the execution out with ``States.Timeout``, and
a late report gets ``TaskTimedOut``, as on AWS). The service's size limits are checked:
output 256 KiB, error 256 characters, cause 32 KiB.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django_onestep.core.errors import OneStepError

__all__ = ["LocalStepFunctions"]

_PREFIX = "arn:aws:states:us-east-1:123456789012"


class LocalServiceError(OneStepError):
    """An error answer of the stand-in (its ``__type`` and message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Task:
    token: str
    execution_arn: str
    activity_arn: str
    input: str
    heartbeat_s: float | None
    timeout_s: float | None
    started_at: float | None = None
    last_heartbeat: float | None = None
    done: bool = False
    timed_out: bool = False


@dataclass
class _Execution:
    arn: str
    state_machine_arn: str
    input: str
    started: float = field(default_factory=time.time)
    status: str = "RUNNING"
    output: str | None = None
    error: str | None = None
    cause: str | None = None


class LocalStepFunctions:
    def __init__(self, *, poll_s: float = 2.0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.poll_s = poll_s
        self._lock = threading.Condition()
        self._activities: dict[str, deque[str]] = {}
        self._machines: dict[str, dict[str, Any]] = {}
        self._executions: dict[str, _Execution] = {}
        self._tasks: dict[str, _Task] = {}
        self.heartbeats = 0
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self.url = f"http://{host}:{self._httpd.server_address[1]}"
        self.credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        self._threads = [
            threading.Thread(target=self._httpd.serve_forever, name="sfn-local", daemon=True),
            threading.Thread(target=self._reap_timeouts, name="sfn-local-timeouts", daemon=True),
        ]

    def __enter__(self) -> LocalStepFunctions:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- the operations --------------------------------------------------------------------
    def dispatch(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        method = getattr(self, f"_op_{operation}", None)
        if method is None:
            raise LocalServiceError(
                "UnknownOperationException", f"{operation} is not implemented by the stand-in"
            )
        result: dict[str, Any] = method(body)
        return result

    def _op_CreateActivity(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = f"{_PREFIX}:activity:{body['name']}"
        with self._lock:
            self._activities.setdefault(arn, deque())
        return {"activityArn": arn, "creationDate": time.time()}

    def _op_DescribeActivity(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = body["activityArn"]
        with self._lock:
            if arn not in self._activities:
                raise LocalServiceError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        return {"activityArn": arn, "name": arn.rsplit(":", 1)[-1], "creationDate": time.time()}

    def _op_CreateStateMachine(self, body: dict[str, Any]) -> dict[str, Any]:
        definition = json.loads(body["definition"])
        state = definition["States"][definition["StartAt"]]
        if state.get("Type") != "Task" or ":activity:" not in state.get("Resource", ""):
            raise LocalServiceError("InvalidDefinition", "the stand-in runs one Task state on an activity")
        arn = f"{_PREFIX}:stateMachine:{body['name']}"
        with self._lock:
            self._machines[arn] = state
        return {"stateMachineArn": arn, "creationDate": time.time()}

    def _op_StartExecution(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            state = self._machines.get(body["stateMachineArn"])
            if state is None:
                raise LocalServiceError("StateMachineDoesNotExist", body["stateMachineArn"])
            name = body.get("name") or uuid.uuid4().hex
            arn = f"{_PREFIX}:execution:{body['stateMachineArn'].rsplit(':', 1)[-1]}:{name}"
            execution = _Execution(arn, body["stateMachineArn"], body.get("input", "{}"))
            self._executions[arn] = execution
            task = _Task(
                token=uuid.uuid4().hex + uuid.uuid4().hex,
                execution_arn=arn,
                activity_arn=state["Resource"],
                input=execution.input,
                heartbeat_s=state.get("HeartbeatSeconds"),
                timeout_s=state.get("TimeoutSeconds"),
            )
            self._tasks[task.token] = task
            self._activities.setdefault(task.activity_arn, deque()).append(task.token)
            self._lock.notify_all()
        return {"executionArn": arn, "startDate": execution.started}

    def _op_DescribeExecution(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            execution = self._executions.get(body["executionArn"])
            if execution is None:
                raise LocalServiceError("ExecutionDoesNotExist", body["executionArn"])
            answer = {
                "executionArn": execution.arn,
                "stateMachineArn": execution.state_machine_arn,
                "status": execution.status,
                "startDate": execution.started,
                "input": execution.input,
            }
            for key in ("output", "error", "cause"):
                if getattr(execution, key) is not None:
                    answer[key] = getattr(execution, key)
            return answer

    def _op_GetActivityTask(self, body: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.poll_s
        with self._lock:
            pending = self._activities.get(body["activityArn"])
            if pending is None:
                raise LocalServiceError("ActivityDoesNotExist", body["activityArn"])
            while not pending and not self._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return {}
                self._lock.wait(left)
            if not pending:
                return {}
            task = self._tasks[pending.popleft()]
            task.started_at = task.last_heartbeat = time.monotonic()
            return {"taskToken": task.token, "input": task.input}

    def _live_task(self, token: str) -> _Task:
        task = self._tasks.get(token)
        if task is None or (task.done and not task.timed_out):
            raise LocalServiceError("TaskDoesNotExist", "unknown or finished task token")
        if task.timed_out:
            raise LocalServiceError("TaskTimedOut", "the task timed out")
        return task

    def _op_SendTaskHeartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._live_task(body["taskToken"]).last_heartbeat = time.monotonic()
            self.heartbeats += 1
        return {}

    def _op_SendTaskSuccess(self, body: dict[str, Any]) -> dict[str, Any]:
        output = body["output"]
        if len(output.encode()) > 262_144:
            raise LocalServiceError("InvalidOutput", "output is larger than 256 KiB")
        json.loads(output)  # InvalidOutput on AWS too
        with self._lock:
            task = self._live_task(body["taskToken"])
            task.done = True
            execution = self._executions[task.execution_arn]
            execution.status, execution.output = "SUCCEEDED", output
        return {}

    def _op_SendTaskFailure(self, body: dict[str, Any]) -> dict[str, Any]:
        error, cause = body.get("error", ""), body.get("cause", "")
        if len(error) > 256 or len(cause) > 32_768:
            raise LocalServiceError(
                "ValidationException", "error is limited to 256 and cause to 32768 characters"
            )
        with self._lock:
            task = self._live_task(body["taskToken"])
            task.done = True
            execution = self._executions[task.execution_arn]
            execution.status, execution.error, execution.cause = "FAILED", error, cause
        return {}

    def _reap_timeouts(self) -> None:
        while not self._stopping.wait(0.05):
            now = time.monotonic()
            with self._lock:
                for task in self._tasks.values():
                    if task.done or task.started_at is None or task.last_heartbeat is None:
                        continue
                    late_heartbeat = (
                        task.heartbeat_s is not None and now - task.last_heartbeat > task.heartbeat_s
                    )
                    late_result = task.timeout_s is not None and now - task.started_at > task.timeout_s
                    if late_heartbeat or late_result:
                        task.done = task.timed_out = True
                        execution = self._executions[task.execution_arn]
                        execution.status, execution.error = "TIMED_OUT", "States.Timeout"
                        execution.cause = "heartbeat" if late_heartbeat else "timeout"


def _handler(service: LocalStepFunctions) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            target = self.headers.get("X-Amz-Target", "")
            operation = target.split(".", 1)[-1]
            try:
                code, answer = 200, service.dispatch(operation, json.loads(raw or b"{}"))
            except LocalServiceError as exc:
                code, answer = 400, {"__type": exc.code, "message": str(exc)}
            except (KeyError, ValueError) as exc:
                code, answer = 400, {"__type": "ValidationException", "message": f"bad request: {exc}"}
            payload = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("x-amzn-RequestId", uuid.uuid4().hex)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
