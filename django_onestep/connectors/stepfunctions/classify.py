"""Map boto3/botocore failures of the Step Functions API to ConnectorOperationError kinds."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django_onestep.connectors import redaction
from django_onestep.connectors.aws_classify import aws_error_code, classify_aws
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


error_code = aws_error_code


def classify(exc: BaseException) -> ConnectorErrorKind:
    return classify_aws(exc, throttled=_THROTTLED, transient=_TRANSIENT, misconfigured=_MISCONFIGURED)


to_connector_error = functools.partial(
    redaction.wrap_error, backend=BACKEND, classify=classify, error_type=StepFunctionsError
)
