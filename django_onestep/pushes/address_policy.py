"""Which push targets may be reached: SSRF protection for URLs that come from users.

A host is refused when any address it resolves to is loopback, private, link-local,
reserved, multicast or unspecified, unless the host (or that address) is listed in
``ONESTEP["PUSH_ALLOWED_HOSTS"]``. It is checked when a push is made and again before
each attempt: a name can be re-pointed at an internal address in between.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Callable, Iterable

from django_onestep.core.errors import OneStepError

__all__ = ["PushTargetRefused", "check_target", "target_host"]

Resolver = Callable[[str], list[str]]


class PushTargetRefused(OneStepError, ValueError):
    """The URL is not http(s), or its host resolves to an address pushes may not reach."""


def _resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise PushTargetRefused(f"push target host {host!r} does not resolve: {exc}") from None
    return sorted({str(info[4][0]) for info in infos})


def target_host(url: str) -> str:
    """The lower-case host of an http(s) URL; anything else is refused."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushTargetRefused(f"push url must be an http(s) URL with a host, got scheme {parts.scheme!r}")
    return parts.hostname.lower()


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def check_target(url: str, allowed_hosts: Iterable[str], *, resolve: Resolver = _resolve) -> str:
    """Return the URL's host, or raise ``PushTargetRefused`` naming the setting to change."""
    host = target_host(url)
    allowed = {name.lower() for name in allowed_hosts}
    if host in allowed:
        return host
    for address in resolve(host):
        if address in allowed:
            continue
        if _internal(address):
            raise PushTargetRefused(
                f"push target {host!r} resolves to internal address {address}; "
                f'add {host!r} to ONESTEP["PUSH_ALLOWED_HOSTS"] to allow it'
            )
    return host
