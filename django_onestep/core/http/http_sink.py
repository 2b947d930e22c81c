"""HttpSink: send each envelope as an HTTP request (onestep 1.x ``http_sink``).

Standard library only: ``urllib`` runs in a worker thread so the event loop never
blocks. The body is the envelope body as JSON (or the configured ``body`` template);
``url``, ``headers``, ``params`` and ``body`` may contain ``{{ body.field }}``,
``{{ meta.key }}`` or ``{{ attempts }}`` placeholders. Redirects are not followed
(a POST silently turned into a GET would lose the payload): a 3xx is an error.

A failed send raises ConnectorOperationError whose ``kind`` tells the runner what to
do: connection failures and timeouts are ``disconnected``, 408/425/5xx ``transient``,
429 ``throttled`` (honouring ``Retry-After``), other statuses ``permanent``, a bad
template or certificate ``misconfigured``. Messages never contain header values or
URL credentials.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import http.client
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django_onestep.core.base import Sink
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import (
    ConfigurationError,
    ConnectorErrorKind,
    ConnectorOperation,
    ConnectorOperationError,
    OneStepError,
)
from django_onestep.core.validation import is_int, positive_number

__all__ = ["HttpSink", "HttpSinkStatusError", "classify_status"]

_DEFAULT_SUCCESS_STATUSES = (200, 201, 202, 204)
_BODYLESS_METHODS = frozenset({"GET", "DELETE", "HEAD"})
_MAX_ERROR_BODY_BYTES = 64 * 1024
_PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*"
_PLACEHOLDER = re.compile(r"\{\{\s*(" + _PATH + r")\s*\}\}")
_WHOLE_PLACEHOLDER = re.compile(r"^\s*\{\{\s*(" + _PATH + r")\s*\}\}\s*$")


class HttpSinkStatusError(OneStepError, RuntimeError):
    """The server answered with a status outside ``success_statuses`` (kept as cause)."""

    def __init__(self, *, name: str, status: int, reason: str, body: bytes) -> None:
        self.name = name
        self.status = status
        self.reason = reason
        self.body = body
        super().__init__(f"http_sink {name!r} returned HTTP {status} {reason}".rstrip())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def classify_status(status: int) -> ConnectorErrorKind:
    if status == 429:
        return ConnectorErrorKind.THROTTLED
    if status in (408, 425) or status >= 500:
        return ConnectorErrorKind.TRANSIENT
    return ConnectorErrorKind.PERMANENT


def _retry_after_s(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def redact_url(url: str) -> str:
    """Drop credentials, query and fragment: what may appear in logs and errors."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"***@{host}" if "@" in parts.netloc else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _check_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"HttpSink url must be a non-empty string; got {url!r}")
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"HttpSink url must be an http(s) URL; got {redact_url(url)!r}")
    return url.strip()


def _resolve(context: Mapping[str, Any], path: str) -> Any:
    current: Any = context
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, Sequence) and not isinstance(current, str | bytes) and part.isdigit():
            current = current[int(part)]
        else:
            raise KeyError(f"template variable {path!r} is not in the envelope")
    return current


def render_template(value: Any, context: Mapping[str, Any]) -> Any:
    """Replace placeholders; a string that is only a placeholder keeps the value's type."""
    if isinstance(value, str):
        whole = _WHOLE_PLACEHOLDER.match(value)
        if whole:
            return _resolve(context, whole.group(1))
        return _PLACEHOLDER.sub(
            lambda m: "" if (v := _resolve(context, m.group(1))) is None else str(v), value
        )
    if isinstance(value, Mapping):
        return {key: render_template(item, context) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render_template(item, context) for item in value]
    return value


class HttpSink(Sink):
    """``HttpSink(name, url=..., method="POST", headers=None, params=None, body=None,
    timeout_s=5.0, success_statuses=(200, 201, 202, 204))`` as in onestep."""

    def __init__(
        self,
        name: str,
        *,
        url: str,
        method: str = "POST",
        headers: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout_s: float = 5.0,
        success_statuses: Sequence[int] | None = None,
    ) -> None:
        super().__init__(name)
        self.url = _check_url(url)
        if not isinstance(method, str) or not method.strip():
            raise ConfigurationError(f"HttpSink method must be a non-empty string; got {method!r}")
        self.method = method.strip().upper()
        for label, mapping in (("headers", headers), ("params", params)):
            if mapping is not None and not isinstance(mapping, Mapping):
                raise ConfigurationError(f"HttpSink {label} must be a mapping; got {type(mapping).__name__}")
        self.headers = {str(key).strip(): value for key, value in (headers or {}).items()}
        self.params = dict(params or {})
        self.body = copy.deepcopy(body)
        # finite: urllib rejects inf only when it sends
        self.timeout_s = positive_number("HttpSink timeout_s", timeout_s)
        if success_statuses is None:
            statuses: tuple[Any, ...] = _DEFAULT_SUCCESS_STATUSES
        elif isinstance(success_statuses, str | bytes) or not isinstance(success_statuses, Iterable):
            raise ConfigurationError(
                f"HttpSink success_statuses must be HTTP status codes; got {success_statuses!r}"
            )
        else:
            statuses = tuple(success_statuses)
        if not statuses or any(not is_int(s) or not 100 <= s <= 599 for s in statuses):
            raise ConfigurationError(f"HttpSink success_statuses must be HTTP status codes; got {statuses!r}")
        self.success_statuses = tuple(dict.fromkeys(statuses))
        self._opener = urllib.request.build_opener(_NoRedirect())

    def _error(self, kind: ConnectorErrorKind, cause: BaseException, message: str, **kw: Any) -> Exception:
        return ConnectorOperationError(
            backend="http_sink",
            operation=ConnectorOperation.SEND,
            kind=kind,
            source_name=self.name,
            cause=cause,
            message=message,
            **kw,
        )

    def build_request(self, envelope: Envelope) -> urllib.request.Request:
        context = {"body": envelope.body, "payload": envelope.body, "meta": envelope.meta}
        context["attempts"] = envelope.attempts
        try:
            url = _check_url(render_template(self.url, context))
            params = dict(render_template(self.params, context))
            if self.method in _BODYLESS_METHODS:
                data = None
                if isinstance(envelope.body, Mapping):
                    params.update(envelope.body)
            else:
                payload = envelope.body if self.body is None else render_template(self.body, context)
                data = json.dumps(payload, default=str).encode("utf-8")
            headers = {
                key: "" if value is None else str(value)
                for key, value in render_template(self.headers, context).items()
            }
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise self._error(
                ConnectorErrorKind.MISCONFIGURED,
                exc,
                f"http_sink {self.name!r} could not build the request: {exc}",
            ) from exc
        if data is not None and not any(key.lower() == "content-type" for key in headers):
            headers["Content-Type"] = "application/json"
        parts = urllib.parse.urlsplit(url)
        if parts.username is not None or parts.password is not None:
            # urllib would try to resolve "user:pass@host" as the host name: send the
            # credentials as HTTP Basic auth instead, unless an Authorization is given.
            if not any(key.lower() == "authorization" for key in headers):
                user = urllib.parse.unquote(parts.username or "")
                password = urllib.parse.unquote(parts.password or "")
                token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
                headers["Authorization"] = f"Basic {token}"
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        if params:
            query = urllib.parse.urlencode(params, doseq=True)
            parts = parts._replace(query=f"{parts.query}&{query}" if parts.query else query)
        url = urllib.parse.urlunsplit(parts)
        return urllib.request.Request(url, data=data, headers=headers, method=self.method)

    def _perform(self, request: urllib.request.Request) -> tuple[int, str, dict[str, str], bytes]:
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                return response.status, response.reason, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read(_MAX_ERROR_BODY_BYTES)
            return exc.code, str(exc.reason or ""), dict(exc.headers or {}), body

    async def send(self, envelope: Envelope) -> None:
        request = self.build_request(envelope)
        target = f"{self.method} {redact_url(request.full_url)}"
        try:
            status, reason, headers, body = await asyncio.to_thread(self._perform, request)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise self._transport_error(exc, target) from exc
        if status in self.success_statuses:
            return
        status_error = HttpSinkStatusError(name=self.name, status=status, reason=reason, body=body)
        lowered = {key.lower(): value for key, value in headers.items()}
        raise self._error(
            classify_status(status),
            status_error,
            f"http_sink send failed for {self.name!r}: HTTP {status} {reason}".rstrip(),
            retry_delay_s=_retry_after_s(lowered.get("retry-after")) if status == 429 else None,
        ) from status_error

    def _transport_error(self, exc: Exception, target: str) -> Exception:
        reason = getattr(exc, "reason", None) if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, ssl.SSLCertVerificationError) or isinstance(exc, ValueError):
            kind = ConnectorErrorKind.MISCONFIGURED  # retrying cannot fix a bad cert or URL
        elif isinstance(exc, http.client.HTTPException):
            kind = ConnectorErrorKind.TRANSIENT  # the server spoke broken HTTP
        else:
            kind = ConnectorErrorKind.DISCONNECTED  # refused, reset, DNS, timeout
        return self._error(kind, exc, f"http_sink {self.name!r} {target} failed: {reason or exc!r}")

    def control_plane_descriptor(self) -> dict[str, Any]:
        """What the check command and reporter show: no secrets (headers/params hidden)."""
        config: dict[str, Any] = {
            "url": redact_url(self.url),
            "method": self.method,
            "headers": {key: "<redacted>" for key in sorted(self.headers)},
            "params": {key: "<redacted>" for key in sorted(self.params)},
            "timeout_s": self.timeout_s,
            "success_statuses": list(self.success_statuses),
        }
        if self.body is not None:
            config["body"] = "<redacted>"
        return {"kind": "http_sink", "name": self.name, "config": config}
