"""Map boto3/botocore failures to ConnectorOperationError kinds, with secrets scrubbed."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django_onestep.connectors import redaction
from django_onestep.connectors.aws_classify import aws_error_code, classify_aws
from django_onestep.core.errors import (
    ConnectorErrorKind,
    OneStepError,
)

__all__ = ["SQSError", "classify", "error_code", "secret_tokens", "to_connector_error"]

BACKEND = "sqs"
_SECRET_KEYS = frozenset(
    {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "password", "token"}
)
_THROTTLED = frozenset(
    {"throttling", "throttlingexception", "requestthrottled", "toomanyrequestsexception", "slowdown"}
)
_TRANSIENT = frozenset({"requesttimeout", "internalerror", "serviceunavailable", "internalfailure"})
_MISCONFIGURED = frozenset(
    {
        "accessdenied",
        "accessdeniedexception",
        "invalidclienttokenid",
        "signaturedoesnotmatch",
        "unrecognizedclientexception",
        "aws.simplequeueservice.nonexistentqueue",
        "queuedoesnotexist",
        "invalidaddress",
    }
)


class SQSError(OneStepError):
    """A driver error whose text has been scrubbed of secrets (kept as ``cause``)."""


def secret_tokens(options: Mapping[str, Any] | None) -> list[str]:
    """Access keys and tokens given in ``options``: never shown in errors or logs."""
    return redaction.secret_tokens(None, options, _SECRET_KEYS)


error_code = aws_error_code


def classify(exc: BaseException) -> ConnectorErrorKind:
    return classify_aws(exc, throttled=_THROTTLED, transient=_TRANSIENT, misconfigured=_MISCONFIGURED)


# ``to_connector_error(exc, operation=..., source_name=..., tokens=..., retry_delay_s=...)``
to_connector_error = functools.partial(
    redaction.wrap_error, backend=BACKEND, classify=classify, error_type=SQSError
)
