"""The handler of the built-in push task: one attempt of one ``PushDelivery``.

It runs in the worker's sync thread pool. Before the attempt it checks, in this order:
the delivery is not already delivered (a duplicate job after a worker died), its host
is not paused, its target is still allowed (DNS may have changed since ``push``), and
the host's limits let it start; a delivery that cannot start now is put back with a
delay (``PushDeferred``) without counting an attempt.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models import F
from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.core.errors import ConfigurationError
from django_onestep.pushes.address_policy import PushTargetRefused, check_target
from django_onestep.pushes.host_limits import HostLimiter, parse_host_limits
from django_onestep.pushes.http_attempt import build_headers, encode_body, send_once, signing_headers
from django_onestep.pushes.push_retry_policy import PushAttemptFailed, PushDeferred, backoff_from_row

__all__ = ["PushHandler"]

PAUSED_RECHECK_S = 1.0
# paused hosts are read at most this often per process: one query a second, not one a push
PAUSED_CACHE_S = 1.0
# A token due within this long is waited for in the thread; a later one frees the slot.
MAX_LIMIT_WAIT_S = 1.0


class PushHandler:
    """``handler(ctx, payload)``; holds the process's host limiter."""

    __name__ = "push"

    def __init__(self) -> None:
        self._limiter: HostLimiter | None = None
        self._paused: frozenset[str] = frozenset()
        self._paused_until = 0.0

    @property
    def limiter(self) -> HostLimiter:
        if self._limiter is None:
            self._limiter = HostLimiter(parse_host_limits(get_settings().PUSH_HOST_LIMITS))
        return self._limiter

    def __call__(self, ctx: Any, payload: Any) -> None:
        from django_onestep.models import PushDelivery

        delivery_id = payload["delivery_id"]
        row = PushDelivery.objects.filter(pk=delivery_id).first()
        if row is None or row.state == PushDelivery.State.SUCCEEDED:
            return
        if row.state == PushDelivery.State.DEAD:  # its dead letter was replayed: attempts afresh
            PushDelivery.objects.filter(pk=row.pk, state=row.state).update(
                state=PushDelivery.State.IN_FLIGHT, attempts=0, finished_at=None
            )
            row.attempts = 0
        if row.host in self._paused_hosts():
            raise PushDeferred(f"host {row.host} is paused", PAUSED_RECHECK_S)
        conf = get_settings()
        body = encode_body(row.payload)
        try:
            check_target(row.url, conf.PUSH_ALLOWED_HOSTS)
            # a signing name no longer in the settings cannot be fixed by retrying
            signed = signing_headers(row.signing, conf.PUSH_SECRETS, body)
        except (PushTargetRefused, ConfigurationError) as exc:
            self._finish(row, status=None, error=str(exc), dead=True)
            raise PushAttemptFailed(str(exc), final=True, delay_s=0.0) from None
        wait_s = self.limiter.try_start(row.host, max_wait_s=MAX_LIMIT_WAIT_S)
        if wait_s is None:
            raise PushDeferred(f"host {row.host} is at its limit", self.limiter.retry_in_s(row.host))
        try:
            if wait_s > 0:
                time.sleep(wait_s)
            PushDelivery.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
            attempt = row.attempts + 1  # the job's claim makes this worker the only one on it
            headers = build_headers(
                delivery_id=str(row.pk), attempt=attempt, user_headers=row.headers, signed=signed
            )
            result = send_once(row.url, row.method, headers, body, row.timeout_s)
        finally:
            self.limiter.finish(row.host)
        if result.ok:
            self._finish(row, status=result.status, error="", succeeded=True)
            return
        final = attempt >= row.max_attempts
        self._finish(row, status=result.status, error=result.error, dead=final)
        delay_s = backoff_from_row(row.backoff, row.max_attempts).delay_for(attempt - 1)
        raise PushAttemptFailed(
            f"push {row.pk} attempt {attempt}/{row.max_attempts} to {row.host}: {result.error}",
            final=final,
            delay_s=delay_s,
        )

    def _paused_hosts(self) -> frozenset[str]:
        from django_onestep.models import PushHost

        now = time.monotonic()
        if now >= self._paused_until:
            self._paused = frozenset(PushHost.objects.filter(paused=True).values_list("host", flat=True))
            self._paused_until = now + PAUSED_CACHE_S
        return self._paused

    @staticmethod
    def _finish(
        row: Any, *, status: int | None, error: str, succeeded: bool = False, dead: bool = False
    ) -> None:
        from django_onestep.models import PushDelivery

        now = timezone.now()
        fields: dict[str, Any] = {"last_status": status, "last_error": error[:2000], "updated_at": now}
        if succeeded or dead:
            fields["state"] = PushDelivery.State.SUCCEEDED if succeeded else PushDelivery.State.DEAD
            fields["finished_at"] = now
        # a late duplicate never turns a delivered push back into a failed one
        PushDelivery.objects.filter(pk=row.pk).exclude(state=PushDelivery.State.SUCCEEDED).update(**fields)
