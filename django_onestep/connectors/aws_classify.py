"""How a boto3/botocore failure maps to a ConnectorErrorKind, for every AWS transport.

Each transport passes its own error codes (lower case); the shape of botocore's
exceptions and the HTTP-status fallback are the same for all AWS APIs.
"""

from __future__ import annotations

from collections.abc import Set

from django_onestep.core.errors import ConnectorErrorKind

__all__ = ["aws_error_code", "classify_aws"]


def aws_error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def classify_aws(
    exc: BaseException, *, throttled: Set[str], transient: Set[str], misconfigured: Set[str]
) -> ConnectorErrorKind:
    import botocore.exceptions as be

    if isinstance(exc, be.NoRegionError | be.NoCredentialsError | be.PartialCredentialsError):
        return ConnectorErrorKind.MISCONFIGURED
    if isinstance(exc, be.ParamValidationError):
        return ConnectorErrorKind.PERMANENT
    if isinstance(exc, be.ClientError):
        code = aws_error_code(exc).lower()
        if code in throttled:
            return ConnectorErrorKind.THROTTLED
        if code in transient:
            return ConnectorErrorKind.TRANSIENT
        if code in misconfigured:
            return ConnectorErrorKind.MISCONFIGURED
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return ConnectorErrorKind.TRANSIENT if status >= 500 else ConnectorErrorKind.PERMANENT
    # EndpointConnectionError, ConnectionClosedError, read/connect timeouts, OSError.
    if isinstance(exc, be.BotoCoreError | OSError | TimeoutError):
        return ConnectorErrorKind.DISCONNECTED
    return ConnectorErrorKind.PERMANENT
