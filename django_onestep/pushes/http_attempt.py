"""One HTTP attempt of a push: signed, no redirects, bounded by ``timeout_s``.

Standard library only (``urllib``), as ``HttpSink``; it runs in the worker's sync
thread. A 3xx is an answer like any other non-2xx: following it could carry the
payload and its signature to a host the address policy never checked.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.http.webhook_hmac import ONESTEP_SIGNATURE_HEADER, sign_timestamped

__all__ = [
    "AUTH_KEY_HEADER",
    "DELIVERY_ID_HEADER",
    "AttemptResult",
    "build_headers",
    "encode_body",
    "send_once",
]

DELIVERY_ID_HEADER = "X-Onestep-Delivery-Id"
ATTEMPT_HEADER = "X-Onestep-Attempt"
AUTH_KEY_HEADER = "Onestep-Auth-Key"  # poussetaches' plain shared key
_ERROR_BODY_BYTES = 2048


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect())


@dataclass(frozen=True)
class AttemptResult:
    status: int | None  # None: no answer (refused, reset, timeout)
    error: str  # empty on a 2xx

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def encode_body(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), default=str).encode("utf-8")


def signing_headers(signing: str, secrets: Mapping[str, Any], body: bytes) -> dict[str, str]:
    """The headers ``ONESTEP["PUSH_SECRETS"][signing]`` asks for (``HMAC`` or ``AUTH_KEY``)."""
    if not signing:
        return {}
    entry = secrets.get(signing)
    where = f'ONESTEP["PUSH_SECRETS"]["{signing}"]'
    if not isinstance(entry, Mapping) or len(entry) != 1 or not set(entry) <= {"HMAC", "AUTH_KEY"}:
        raise ConfigurationError(f'{where}: must be {{"HMAC": secret}} or {{"AUTH_KEY": key}}')
    (kind, secret), *_ = entry.items()
    if not isinstance(secret, str) or not secret:
        raise ConfigurationError(f"{where}: the {kind} must be a non-empty string")
    if kind == "HMAC":
        return {ONESTEP_SIGNATURE_HEADER: sign_timestamped(secret, body)}
    return {AUTH_KEY_HEADER: secret}


def build_headers(
    *, delivery_id: str, attempt: int, user_headers: Mapping[str, str], signed: Mapping[str, str]
) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": "django-onestep-push"}
    headers.update(user_headers)
    # ours last: a caller's header cannot forge the id or the signature
    headers.update({DELIVERY_ID_HEADER: delivery_id, ATTEMPT_HEADER: str(attempt)})
    headers.update(signed)
    return headers


def send_once(
    url: str, method: str, headers: Mapping[str, str], body: bytes, timeout_s: float
) -> AttemptResult:
    data = None if method in ("GET", "HEAD", "DELETE") else body
    request = urllib.request.Request(url, data=data, headers=dict(headers), method=method)
    try:
        with _opener.open(request, timeout=timeout_s) as response:
            response.read()
            status = int(response.status)
            return AttemptResult(status, "" if 200 <= status < 300 else f"HTTP {status}")
    except urllib.error.HTTPError as exc:
        with exc:
            exc.read(_ERROR_BODY_BYTES)
        return AttemptResult(exc.code, f"HTTP {exc.code} {exc.reason or ''}".rstrip())
    except (OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        return AttemptResult(None, f"{type(exc).__name__}: {reason}")
