"""Exceptions raised by the runtime and its connectors.

Every exception the package defines is a :class:`OneStepError` (a test walks them all),
so ``except OneStepError`` catches whatever django-onestep raises on purpose; each
also keeps the builtin or Django base that callers already catch. Exception tree::

    OneStepError
    ├── ConfigurationError (also ValueError): a bad argument or definition, names the key
    │   ├── OneStepSettingsError (also ImproperlyConfigured; django_onestep.conf):
    │   │   a bad ONESTEP setting, names its key (system check E001)
    │   └── WorkerSetupError (django_onestep.worker.options): the worker cannot start
    │       with this target or these options (exit code 2)
    ├── MissingExtraError (also ImportError): an optional client library is not installed
    ├── ConnectorOperationError: a transport failed; ``kind`` says whether to retry
    ├── PoisonMessageError: an item that must never run (its reason goes to the dead letter)
    ├── RetryRequested (core.runtime.batch_executor): how an item a batch handler handed
    │   back with ``ctx.batch.retry()`` shows in events and logs (never raised)
    ├── UndecodableMessage (also ValueError; connectors.codec): message bytes that are
    │   not an envelope (the message becomes a poison message)
    ├── RabbitMQError (connectors.rabbitmq.classify), SQSError (connectors.sqs.classify),
    │   MySQLError (connectors.mysql.classify), StepFunctionsError
    │   (connectors.stepfunctions.classify): a driver error with its secrets scrubbed,
    │   kept as a ConnectorOperationError's cause
    ├── LocalServiceError (testing.stepfunctions_local): an error the Step Functions
    │   stand-in answers with, as AWS would
    ├── HttpSinkStatusError (also RuntimeError; core.http.http_sink): the server answered
    │   outside ``success_statuses``
    ├── PushTargetRefused (also ValueError; pushes.address_policy): a push URL that is not
    │   http(s) or resolves to an internal address
    ├── PushDeferred, PushAttemptFailed (also RuntimeError; pushes.push_retry_policy): a push
    │   put back unsent, or an attempt without a 2xx (what the push task's retry policy reads)
    ├── WebhookHTTPError (core.http.webhook_protocol): the error status a webhook
    │   listener answers a request with
    ├── SoftTimeLimitExceeded, HardTimeLimitExceeded (also TimeoutError;
    │   core.processes.limits): a handler past ``timeout_s`` / ``time_limit_s``
    ├── ChildProcessDied (also RuntimeError; core.processes.limits): the child process
    │   running a handler exited without an answer
    ├── Retry, MaxRetriesExceededError (celery.exceptions): Celery's ``self.retry()``
    │   asking for another run, or refusing one past ``max_retries``
    ├── JobNotFound (also LookupError; results.handle): no job has this id
    ├── JobFailed (results.handle): ``JobHandle.wait()`` on a job that finished
    │   without success (failed, dead, cancelled, expired or aborted)
    ├── SubmissionFailed (submissions.submission_handle): a batch submission's chunk used up its
    │   attempts (``wait()`` raises it with the chunk index and the exception's name)
    └── WorkflowFailed (workflows.workflow_result): ``WorkflowResult.get()`` on a chain, group
        or chord one of whose steps failed
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "ConfigurationError",
    "ConnectorErrorKind",
    "ConnectorOperation",
    "ConnectorOperationError",
    "MissingExtraError",
    "OneStepError",
    "PoisonMessageError",
    "invalid_value",
    "is_retryable_connector_error",
]


class OneStepError(Exception):
    """Root of every error raised by django-onestep."""


class ConfigurationError(OneStepError, ValueError):
    """A definition is invalid. The message names the offending key and value.

    One made by :func:`invalid_value` also keeps the value's ``name`` and the
    ``problem`` apart, so a caller that knows more of the path (a settings key, a YAML
    path) can name the value again without parsing the text; otherwise both are None.
    """

    name: str | None = None
    problem: str | None = None


def invalid_value(name: str, problem: str) -> ConfigurationError:
    """``ConfigurationError("<name>: <problem>")`` with ``name`` and ``problem`` kept."""
    error = ConfigurationError(f"{name}: {problem}")
    error.name = name
    error.problem = problem
    return error


class MissingExtraError(OneStepError, ImportError):
    """An optional dependency is missing; the message names the pip extra to install."""

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{module!r} is not installed. Install it with: pip install 'django-onestep[{extra}]'"
        )


class PoisonMessageError(OneStepError):
    """Raised (as the recorded failure) for a delivery whose ``poison_reason`` is set."""


class ConnectorOperation(str, Enum):
    """Which connector operation failed."""

    OPEN = "open"
    FETCH = "fetch"
    HEARTBEAT = "heartbeat"
    SEND = "send"
    ACK = "ack"
    RETRY = "retry"
    FAIL = "fail"
    CLOSE = "close"


class ConnectorErrorKind(str, Enum):
    """How the runtime reacts: the first three are retried, the last two stop the runner."""

    DISCONNECTED = "disconnected"
    TRANSIENT = "transient"
    THROTTLED = "throttled"
    MISCONFIGURED = "misconfigured"
    PERMANENT = "permanent"
    # The operation may or may not have taken effect (e.g. a publish whose confirm was lost).
    UNCERTAIN = "uncertain"

    @property
    def retryable(self) -> bool:
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {ConnectorErrorKind.DISCONNECTED, ConnectorErrorKind.TRANSIENT, ConnectorErrorKind.THROTTLED}
)


class ConnectorOperationError(OneStepError):
    """A connector operation failed. Same keyword signature as onestep 1.x.

    The driver error is kept as ``cause`` (and chained with ``raise ... from``).
    ``retry_delay_s`` lets a connector suggest how long the runner backs off.
    """

    def __init__(
        self,
        *,
        backend: str,
        operation: ConnectorOperation | str,
        kind: ConnectorErrorKind | str,
        source_name: str | None = None,
        retry_delay_s: float | None = None,
        cause: BaseException | None = None,
        message: str | None = None,
    ) -> None:
        self.backend = backend
        self.operation = ConnectorOperation(operation)
        self.kind = ConnectorErrorKind(kind)
        self.source_name = source_name
        self.retry_delay_s = retry_delay_s
        self.cause = cause
        super().__init__(message or self._default_message())

    def _default_message(self) -> str:
        target = f" for {self.source_name}" if self.source_name else ""
        detail = f": {type(self.cause).__name__}: {self.cause}" if self.cause is not None else ""
        return f"{self.backend} {self.operation.value} failed ({self.kind.value}){target}{detail}"

    @property
    def retryable(self) -> bool:
        return self.kind.retryable


def is_retryable_connector_error(exc: BaseException) -> bool:
    """True for a ConnectorOperationError the runner should back off and retry."""
    return isinstance(exc, ConnectorOperationError) and exc.retryable
