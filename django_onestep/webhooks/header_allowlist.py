"""Which request headers an inbox row keeps in clear: an allow-list, not a deny-list.

A header is stored with its value only when its name is below (or in
``ONESTEP["WEBHOOKS"]["KEEP_HEADERS"]``, or the source's ``delivery_id`` header) and
the source's auth does not read credentials from it; every other header keeps its
name with the value ``"[redacted]"``. So ``Authorization``, ``Cookie``, signatures and
any header a sender invents are never written to the inbox, the dead letters, the
logs or the admin. docs/webhooks.md lists the same names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["REDACTED", "SAFE_HEADERS", "redact_headers"]

REDACTED = "[redacted]"

SAFE_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "content-encoding",
        "content-length",
        "content-type",
        "host",
        "user-agent",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-request-id",
        # GitHub
        "x-github-delivery",
        "x-github-event",
        "x-github-hook-id",
        "x-github-hook-installation-target-id",
        "x-github-hook-installation-target-type",
        # Shopify
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-webhook-id",
        # Slack
        "x-slack-request-timestamp",
        "x-slack-retry-num",
        "x-slack-retry-reason",
    }
)


def redact_headers(
    headers: Mapping[str, str], *, keep: Iterable[str] = (), secret: Iterable[str] = ()
) -> dict[str, str]:
    """Lower-case names; values of headers outside the allow-list become ``[redacted]``."""
    allowed = (SAFE_HEADERS | {name.lower() for name in keep}) - {name.lower() for name in secret}
    return {name.lower(): (value if name.lower() in allowed else REDACTED) for name, value in headers.items()}
