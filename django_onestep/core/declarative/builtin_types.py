"""The core resource types: memory, interval, cron, webhook, http_sink (onestep fields)."""

from __future__ import annotations

from typing import Any

from django_onestep.core.declarative.env import env_text
from django_onestep.core.declarative.registry import ResourceContext, register_resource_type
from django_onestep.core.http.http_sink import HttpSink
from django_onestep.core.http.webhook import BearerAuth, WebhookResponse, WebhookSource
from django_onestep.core.http.webhook_hmac import HmacAuth
from django_onestep.core.runtime.memory import MemoryQueue
from django_onestep.core.schedules.cron import CronSource
from django_onestep.core.schedules.interval import IntervalSource
from django_onestep.core.schedules.schedule import (
    DEFAULT_MAX_CATCH_UP,
    DEFAULT_MAX_QUEUED_RUNS,
    DEFAULT_MISFIRE,
    MISFIRE_POLICIES,
)

__all__ = ["register"]

_SCHEDULE_FIELDS = {
    "payload",
    "immediate",
    "overlap",
    "timezone",
    "timezone_name",
    "poll_interval_s",
    "max_queued_runs",
    "misfire",
    "max_catch_up",
}


def _memory(ctx: ResourceContext, spec: dict[str, Any]) -> MemoryQueue:
    return MemoryQueue(
        ctx.resource_name(),
        maxsize=ctx.integer("maxsize", 0, minimum=0),
        batch_size=ctx.integer("batch_size", 100, minimum=1),
        poll_interval_s=ctx.number("poll_interval_s", 0.1, minimum=0),
    )


def _schedule_options(ctx: ResourceContext, spec: dict[str, Any]) -> dict[str, Any]:
    overlap = ctx.string("overlap", "allow")
    if overlap not in ("allow", "skip", "queue"):
        raise ctx.error("overlap", f"must be one of allow, skip, queue, got {overlap!r}")
    misfire = ctx.string("misfire", DEFAULT_MISFIRE)
    if misfire not in MISFIRE_POLICIES:
        raise ctx.error("misfire", f"must be one of skip, run_once, catch_up, got {misfire!r}")
    return {
        "payload": spec.get("payload"),
        "immediate": ctx.boolean("immediate", False),
        "overlap": overlap,
        "timezone": ctx.optional_string("timezone") or ctx.optional_string("timezone_name"),
        "max_queued_runs": ctx.integer("max_queued_runs", DEFAULT_MAX_QUEUED_RUNS, minimum=1),
        "misfire": misfire,
        "max_catch_up": ctx.integer("max_catch_up", DEFAULT_MAX_CATCH_UP, minimum=1),
        "name": ctx.resource_name(),
    }


def _interval(ctx: ResourceContext, spec: dict[str, Any]) -> IntervalSource:
    amounts = {key: ctx.number(key, 0, minimum=0) for key in ("days", "hours", "minutes", "seconds")}
    if not any(amounts.values()):
        raise ctx.error("seconds", "the interval must be > 0: set days, hours, minutes or seconds")
    return IntervalSource.every(
        **amounts,
        poll_interval_s=ctx.number("poll_interval_s", None, minimum=0),
        **_schedule_options(ctx, spec),
    )


def _cron(ctx: ResourceContext, spec: dict[str, Any]) -> CronSource:
    try:
        return CronSource(
            ctx.string("expression"),
            poll_interval_s=ctx.number("poll_interval_s", 1.0, minimum=0),
            **_schedule_options(ctx, spec),
        )
    except ValueError as exc:
        if "cron expression" in str(exc):
            raise ctx.error("expression", str(exc)) from None
        raise


_AUTH_KEYS = {
    "bearer": ("type", "token", "header", "scheme", "realm"),
    "github": ("type", "secret"),
    "stripe": ("type", "secret", "tolerance_s"),
    "hmac": ("type", "secret", "header", "algorithm", "prefix", "encoding"),
}


def _webhook_auth(ctx: ResourceContext, raw: Any) -> BearerAuth | HmacAuth | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return BearerAuth(raw)
    if not isinstance(raw, dict):
        raise ctx.error("auth", f"must be a token string or a mapping, got {type(raw).__name__}")
    kind = str(raw.get("type", "bearer")).strip().lower()
    if kind not in _AUTH_KEYS:
        known = ", ".join(sorted(_AUTH_KEYS))
        raise ctx.error("auth.type", f"unsupported webhook auth type {kind!r} (known: {known})")
    unknown = sorted(set(raw) - set(_AUTH_KEYS[kind]))
    if unknown:
        allowed = ", ".join(_AUTH_KEYS[kind])
        raise ctx.error("auth", f"unknown key(s) {', '.join(unknown)} (allowed: {allowed})")
    if kind != "bearer":
        return _hmac_auth(ctx, kind, raw)
    token = env_text(raw, "token")  # a token of digits stays a string
    if not isinstance(token, str) or not token:
        raise ctx.error("auth.token", "must be a non-empty string")
    return BearerAuth(
        token,
        header=raw.get("header", "authorization"),
        scheme=raw.get("scheme", "Bearer"),
        realm=raw.get("realm", "webhook"),
    )


def _hmac_auth(ctx: ResourceContext, kind: str, raw: dict[str, Any]) -> HmacAuth:
    secret = env_text(raw, "secret")
    secrets = secret if isinstance(secret, list) else [secret]  # a list: rotation
    if not secrets or not all(isinstance(item, str) and item for item in secrets):
        raise ctx.error("auth.secret", "must be a non-empty string or a list of them")
    if kind == "github":
        return HmacAuth.github(secrets)
    if kind == "stripe":
        return HmacAuth.stripe(secrets, tolerance_s=raw.get("tolerance_s", 300.0))
    header = raw.get("header")
    if not isinstance(header, str) or not header.strip():
        raise ctx.error("auth.header", "must name the header carrying the signature")
    return HmacAuth(
        secrets,
        header=header,
        algorithm=raw.get("algorithm", "sha256"),
        prefix=raw.get("prefix", ""),
        encoding=raw.get("encoding", "hex"),
    )


def _webhook(ctx: ResourceContext, spec: dict[str, Any]) -> WebhookSource:
    response = ctx.mapping("response")
    if response is not None:
        unknown = sorted(set(response) - {"status_code", "body", "headers"})
        if unknown:
            raise ctx.error(
                "response", f"unknown key(s) {', '.join(unknown)} (allowed: status_code, body, headers)"
            )
    return WebhookSource(
        path=ctx.string("path"),
        methods=ctx.string_list("methods", ("POST",)),
        host=ctx.string("host", "127.0.0.1"),
        port=ctx.integer("port", 8080, minimum=0),
        parser=ctx.string("parser", "auto"),
        auth=_webhook_auth(ctx, ctx.text("auth")),
        response=None
        if response is None
        else WebhookResponse(
            status_code=response.get("status_code", 202),
            body=response.get("body", {"accepted": True}),
            headers=dict(response.get("headers") or {}),
        ),
        max_body_bytes=ctx.integer("max_body_bytes", 1024 * 1024, minimum=0),
        read_timeout_s=ctx.number("read_timeout_s", 5.0, minimum=0),
        queue_maxsize=ctx.integer("queue_maxsize", 1000, minimum=1),
        batch_size=ctx.integer("batch_size", 100, minimum=1),
        poll_interval_s=ctx.number("poll_interval_s", 0.1, minimum=0),
        name=ctx.resource_name(),
        delivery_id=ctx.optional_string("delivery_id"),
    )


def _http_sink(ctx: ResourceContext, spec: dict[str, Any]) -> HttpSink:
    statuses = spec.get("success_statuses")
    return HttpSink(
        ctx.resource_name(),
        url=ctx.string("url"),
        method=ctx.string("method", "POST"),
        headers=ctx.mapping("headers"),
        params=ctx.mapping("params"),
        body=spec.get("body"),
        timeout_s=ctx.number("timeout_s", 5.0, minimum=0),
        success_statuses=statuses,
    )


def register() -> None:
    register_resource_type("memory", _memory, fields=frozenset({"maxsize", "batch_size", "poll_interval_s"}))
    register_resource_type(
        "interval", _interval, fields=frozenset({"days", "hours", "minutes", "seconds", *_SCHEDULE_FIELDS})
    )
    register_resource_type("cron", _cron, fields=frozenset({"expression", *_SCHEDULE_FIELDS}))
    register_resource_type(
        "webhook",
        _webhook,
        fields=frozenset(
            {
                "path",
                "methods",
                "host",
                "port",
                "parser",
                "auth",
                "response",
                "max_body_bytes",
                "read_timeout_s",
                "queue_maxsize",
                "batch_size",
                "poll_interval_s",
                "delivery_id",
            }
        ),
    )
    register_resource_type(
        "http_sink",
        _http_sink,
        fields=frozenset({"url", "method", "headers", "params", "body", "timeout_s", "success_statuses"}),
    )
