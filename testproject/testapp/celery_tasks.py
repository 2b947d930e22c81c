"""Celery-style tasks of the test project (``django_onestep.celery``); imported by the tests.

Each records its runs as ``Run`` rows: ``task`` is the function's name, ``label`` what
it computed, ``attempts`` ``self.request.retries`` where bound.
"""

from __future__ import annotations

from django_onestep.celery import Celery, shared_task

from .models import Run

celery_app = Celery("testproject")


class Flaky(Exception):
    pass


@shared_task
def add(x, y):
    Run.objects.create(label=str(x + y), task="add")
    return x + y


@shared_task(bind=True, max_retries=2, default_retry_delay=0)
def retry_until_third(self, label):
    Run.objects.create(label=label, task="retry_until_third", attempts=self.request.retries)
    if self.request.retries < 2:
        raise self.retry(exc=Flaky(f"try {self.request.retries}"))
    return self.request.id


@shared_task(bind=True, max_retries=1, default_retry_delay=0)
def retry_forever(self, label):
    Run.objects.create(label=label, task="retry_forever", attempts=self.request.retries)
    raise self.retry(exc=Flaky("still broken"))


@shared_task(autoretry_for=(Flaky,), max_retries=3, retry_backoff=False, default_retry_delay=0)
def auto_retried(label, fail_with="flaky"):
    Run.objects.create(label=label, task="auto_retried")
    if fail_with == "flaky":
        raise Flaky(label)
    raise KeyError(label)


@celery_app.task(name="shop.concat", queue="shop", priority=5)
def concat(*parts, sep=""):
    Run.objects.create(label=sep.join(parts), task="concat")
    return sep.join(parts)


@shared_task(time_limit=30, soft_time_limit=20)
def limited(label):
    Run.objects.create(label=label, task="limited")


@shared_task(bind=True)
def report_progress(self, steps):
    for step in range(1, steps + 1):
        self.update_state(state="PROGRESS", meta={"current": step, "total": steps})
    return {"done": steps}


@shared_task
def explode(label):
    raise ValueError(f"cannot {label}")
