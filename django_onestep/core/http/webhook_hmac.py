"""``HmacAuth``: webhook senders that sign the body with a shared secret.

GitHub (``X-Hub-Signature-256: sha256=<hex>``), Stripe (``Stripe-Signature:
t=<unix>,v1=<hex>,v1=<hex>`` over ``"<t>.<body>"``, with a timestamp tolerance) and
any sender that puts ``<prefix><hex or base64 digest>`` of the body in one header
(Shopify: base64 in ``X-Shopify-Hmac-Sha256``); a ``message`` hook builds another
signed string (Slack: ``v0:<timestamp>:<body>``).

The signature covers the body, so checking it takes two steps: ``authorize(headers)``
before the body is read (the signature header must be there, else 401 at once) and
``verify(headers, body)`` once the body is read, before it is parsed or stored.
Several secrets may be given at once, for rotation: any of them may have signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.http.webhook_protocol import WebhookHTTPError
from django_onestep.core.validation import positive_number

__all__ = ["ONESTEP_SIGNATURE_HEADER", "HmacAuth", "sign_timestamped"]

#: Where django-onestep's own pushes carry ``t=<unix>,v1=<hex>`` (the Stripe layout).
ONESTEP_SIGNATURE_HEADER = "Onestep-Signature"

#: Builds the signed bytes from the (lower-case) headers and the raw body.
MessageBuilder = Callable[[Mapping[str, str], bytes], bytes]


def _timestamped_digest(secret: bytes, timestamp: str, body: bytes) -> bytes:
    """HMAC-SHA256 over ``"<timestamp>.<body>"``: what a timestamped signature covers."""
    return hmac.new(secret, timestamp.encode("ascii") + b"." + body, "sha256").digest()


def sign_timestamped(secret: str | bytes, body: bytes, *, timestamp: int | None = None) -> str:
    """``t=<unix>,v1=<hex>``: the header value ``HmacAuth.onestep`` (and Stripe) verify."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return f"t={stamp},v1={_timestamped_digest(key, stamp, body).hex()}"


def _unauthorized() -> WebhookHTTPError:
    return WebhookHTTPError(401, "unauthorized")


def _secret_bytes(secret: Any) -> list[bytes]:
    items = [secret] if isinstance(secret, str | bytes) else list(secret or ())
    out: list[bytes] = []
    for item in items:
        if isinstance(item, str) and item:
            out.append(item.encode("utf-8"))
        elif isinstance(item, bytes) and item:
            out.append(item)
        else:
            raise ConfigurationError("HmacAuth secret must be a non-empty string (or a list of them)")
    if not out:
        raise ConfigurationError("HmacAuth secret must be a non-empty string (or a list of them)")
    return out


class HmacAuth:
    """``<prefix><digest>`` of the body, keyed with ``secret``, in ``header``."""

    def __init__(
        self,
        secret: str | bytes | Sequence[str | bytes],
        *,
        header: str,
        algorithm: str = "sha256",
        prefix: str = "",
        encoding: str = "hex",
        message: MessageBuilder | None = None,
    ) -> None:
        self._secrets = _secret_bytes(secret)
        if not isinstance(header, str) or not header.strip():
            raise ConfigurationError("HmacAuth header must be a non-empty header name")
        if algorithm not in hashlib.algorithms_guaranteed:
            raise ConfigurationError(
                f"HmacAuth algorithm must be a hashlib name such as 'sha256'; got {algorithm!r}"
            )
        if encoding not in ("hex", "base64"):
            raise ConfigurationError(f"HmacAuth encoding must be 'hex' or 'base64'; got {encoding!r}")
        if message is not None and not callable(message):
            raise ConfigurationError("HmacAuth message must be a function (headers, body) -> bytes")
        self.header = header.strip().lower()
        self.algorithm = algorithm
        self.prefix = prefix
        self.encoding = encoding
        self.message = message

    def __repr__(self) -> str:  # never show the secret
        return f"{type(self).__name__}(secret='***', header={self.header!r}, algorithm={self.algorithm!r})"

    @property
    def secret_headers(self) -> tuple[str, ...]:
        """Header names that carry credentials (never stored in clear)."""
        return (self.header,)

    @classmethod
    def github(cls, secret: str | bytes | Sequence[str | bytes]) -> HmacAuth:
        """GitHub: ``X-Hub-Signature-256: sha256=<hex>``."""
        return cls(secret, header="X-Hub-Signature-256", prefix="sha256=")

    @classmethod
    def stripe(
        cls,
        secret: str | bytes | Sequence[str | bytes],
        tolerance_s: float = 300.0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> HmacAuth:
        """Stripe: ``Stripe-Signature: t=...,v1=...`` with a timestamp tolerance."""
        return StripeAuth(secret, tolerance_s=tolerance_s, clock=clock)

    @classmethod
    def onestep(
        cls,
        secret: str | bytes | Sequence[str | bytes],
        tolerance_s: float = 300.0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> HmacAuth:
        """Another django-onestep site's pushes: ``Onestep-Signature: t=...,v1=...``."""
        return StripeAuth(secret, tolerance_s=tolerance_s, clock=clock, header=ONESTEP_SIGNATURE_HEADER)

    def authorize(self, headers: Mapping[str, str]) -> None:
        """Before the body is read: the signature header must be present."""
        if not headers.get(self.header, "").strip():
            raise _unauthorized()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """After the body is read: one of the secrets must have signed it."""
        presented = headers.get(self.header, "").strip()
        if not presented.startswith(self.prefix):
            raise _unauthorized()
        try:
            signature = self._decode(presented[len(self.prefix) :])
        except (ValueError, binascii.Error):
            raise _unauthorized() from None
        signed = self.message(headers, body) if self.message is not None else body
        if not any(hmac.compare_digest(self._digest(secret, signed), signature) for secret in self._secrets):
            raise _unauthorized()

    def _digest(self, secret: bytes, message: bytes) -> bytes:
        return hmac.new(secret, message, self.algorithm).digest()

    def _decode(self, text: str) -> bytes:
        raw = text.strip().encode("ascii", errors="strict")  # non-ASCII: ValueError
        return (
            bytes.fromhex(raw.decode("ascii"))
            if self.encoding == "hex"
            else base64.b64decode(raw, validate=True)
        )


class StripeAuth(HmacAuth):
    """``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`` over ``"<t>.<body>"``.

    Always SHA-256, as Stripe signs; ``header`` moves it (``HmacAuth.onestep``).
    """

    def __init__(
        self,
        secret: str | bytes | Sequence[str | bytes],
        *,
        tolerance_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        header: str = "Stripe-Signature",
    ) -> None:
        super().__init__(secret, header=header)
        self.tolerance_s = positive_number("HmacAuth.stripe tolerance_s", tolerance_s)
        self.clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        timestamp = ""
        signatures: list[bytes] = []
        for item in headers.get(self.header, "").split(","):
            key, _, value = item.strip().partition("=")
            if key == "t":
                timestamp = value
            elif key == "v1":
                try:
                    signatures.append(bytes.fromhex(value))
                except ValueError:
                    continue  # one malformed v1 among good ones does not reject the request
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12 or not signatures:
            raise _unauthorized()
        if abs(self.clock() - int(timestamp)) > self.tolerance_s:
            raise _unauthorized()  # a replayed (or badly clocked) delivery
        for secret in self._secrets:
            expected = _timestamped_digest(secret, timestamp, body)
            if any(hmac.compare_digest(expected, signature) for signature in signatures):
                return
        raise _unauthorized()
