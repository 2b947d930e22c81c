"""pytest plugin (registered by the ``pytest11`` entry point): django-onestep fixtures.

- ``onestep_app``: the project app (``from django_onestep import app``).
- ``onestep_worker``: runs pending work in-process, ``onestep_worker.run_until_idle()``;
  requests ``transactional_db`` because the worker reads committed rows.
- ``onestep_capture``: an ``EnqueueCapture`` recording what the test enqueues.
- ``onestep_eager``: inside the test, ``handler.enqueue(payload)`` runs the handler at once.

Nothing here imports Django until a fixture is used, so projects without Django (or
test runs of the standalone core) are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest


class OneStepTestWorker:
    """What the ``onestep_worker`` fixture returns."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def run_until_idle(self, tasks: Iterable[str] | None = None, *, timeout_s: float = 60.0) -> Any:
        from django_onestep.testing import run_until_idle

        return run_until_idle(self.app, tasks=tasks, timeout_s=timeout_s)


@pytest.fixture
def onestep_app() -> Any:
    from django_onestep.project.project_app import get_project_app

    return get_project_app()


@pytest.fixture
def onestep_worker(transactional_db: None, onestep_app: Any) -> OneStepTestWorker:
    return OneStepTestWorker(onestep_app)


@pytest.fixture
def onestep_capture(onestep_app: Any) -> Iterator[Any]:
    from django_onestep.testing import capture_enqueued

    with capture_enqueued(onestep_app) as capture:
        yield capture


@pytest.fixture
def onestep_eager(onestep_app: Any) -> Iterator[None]:
    from django_onestep.testing import eager

    with eager(onestep_app):
        yield
