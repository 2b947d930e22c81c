"""Map boto3/botocore failures of the Step Functions API to ConnectorOperationError kinds."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django_onestep.connectors import redaction
from django_onestep.core.errors import ConnectorErrorKind, OneStepError

__all__ = ["StepFunctionsError", "classify", "error_code", "secret_tokens", "to_connector_error"]

BACKEND = "stepfunctions"
_SECRET_KEYS = frozenset({"aws_access_key_id", "aws_secret_access_key", "aws_session_token"})
_THROTTLED = frozenset({"throttlingexception", "toomanyrequestsexception"})
_TRANSIENT = frozenset({"serviceunavailable", "internalfailure", "internalerror", "requesttimeout"})
_MISCONFIGURED = frozenset({
    "accessdeniedexception", "unrecognizedclientexception", "invalidsignatureexception",
    "activitydoesnotexist", "invalidarn",
})  # fmt: skip
# The task is over for this worker (timed out, or its token is unknown): settling it
# again can never succeed, so these are permanent.
GONE = frozenset({"tasktimedout", "taskdoesnotexist", "invalidtoken"})


class StepFunctionsError(OneStepError):
    """A driver error whose text has been scrubbed of secrets."""


def secret_tokens(options: Mapping[str, Any] | None) -> list[str]:
    return redaction.secret_tokens(None, options, _SECRET_KEYS)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def classify(exc: BaseException) -> ConnectorErrorKind:
    import botocore.exceptions as be

    if isinstance(exc, be.NoRegionError | be.NoCredentialsError | be.PartialCredentialsError):
        return ConnectorErrorKind.MISCONFIGURED
    if isinstance(exc, be.ParamValidationError):
        return ConnectorErrorKind.PERMANENT
    if isinstance(exc, be.ClientError):
        code = error_code(exc).lower()
        if code in _THROTTLED:
            return ConnectorErrorKind.THROTTLED
        if code in _TRANSIENT:
            return ConnectorErrorKind.TRANSIENT
        if code in _MISCONFIGURED:
            return ConnectorErrorKind.MISCONFIGURED
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return ConnectorErrorKind.TRANSIENT if status >= 500 else ConnectorErrorKind.PERMANENT
    if isinstance(exc, be.BotoCoreError | OSError | TimeoutError):
        return ConnectorErrorKind.DISCONNECTED
    return ConnectorErrorKind.PERMANENT


to_connector_error = functools.partial(
    redaction.wrap_error, backend=BACKEND, classify=classify, error_type=StepFunctionsError
)
