"""Celery's retry rules as a retry policy: ``self.retry()``, ``autoretry_for``, backoff.

A failure is retried only when the handler asked (``self.retry()`` raises ``Retry``) or
its exception is in ``autoretry_for``, and only while fewer than ``max_retries``
retries happened (``None``: for ever). Any other exception fails the job for good, as
in Celery.
"""

from __future__ import annotations

import random

from django_onestep.celery.celery_options import CeleryTaskOptions
from django_onestep.celery.exceptions import Retry
from django_onestep.core.envelope import Envelope
from django_onestep.core.retry import FailureInfo, RetryAction, RetryDecision

__all__ = ["CeleryRetryPolicy"]


class CeleryRetryPolicy:
    def __init__(self, options: CeleryTaskOptions) -> None:
        self.options = options

    def retries_left(self, retries: int, max_retries: int | None = None) -> bool:
        limit = self.options.max_retries if max_retries is None else max_retries
        return limit is None or retries < limit

    def autoretry_delay_s(self, retries: int) -> float:
        options = self.options
        if not options.retry_backoff:
            return options.default_retry_delay_s
        delay = min(options.retry_backoff * 2**retries, options.retry_backoff_max_s)
        return random.uniform(0, delay) if options.retry_jitter else delay

    def on_error(self, envelope: Envelope, exc: Exception, failure: FailureInfo) -> RetryAction:
        if isinstance(exc, Retry):  # self.retry() checked max_retries already
            return RetryAction(RetryDecision.RETRY, delay_s=exc.countdown_s)
        options = self.options
        wanted = isinstance(exc, options.autoretry_for) and not isinstance(exc, options.dont_autoretry_for)
        if wanted and self.retries_left(envelope.attempts):
            return RetryAction(RetryDecision.RETRY, delay_s=self.autoretry_delay_s(envelope.attempts))
        return RetryAction(RetryDecision.FAIL)

    def __repr__(self) -> str:
        return f"CeleryRetryPolicy(max_retries={self.options.max_retries})"
