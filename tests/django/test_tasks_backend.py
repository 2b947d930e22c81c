"""Django's Tasks framework through ``DatabaseBackend``: the framework's public behaviours
(enqueue, transactions, run_after, priority, results, signals, capability flags) with
the runners ``onestep_worker`` installs, served in-process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.models import DeadLetter, Job
from django_onestep.project.defaults import apply_django_defaults
from django_onestep.tasks_backend import DatabaseBackend, install_configured_backends
from django_onestep.tasks_backend.compat import (
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_backends,
    task_enqueued,
    task_finished,
    task_started,
)
from tests import framework_tasks as ft
from tests.django.dbqueue_helpers import orm

pytestmark = pytest.mark.django_db(transaction=True)

BACKEND = "django_onestep.tasks_backend.DatabaseBackend"


def tasks_setting(**options: Any) -> dict[str, Any]:
    return {"default": {"BACKEND": BACKEND, "QUEUES": ["default", "other"], "OPTIONS": options}}


@pytest.fixture
def backend() -> Iterator[DatabaseBackend]:
    with override_settings(TASKS=tasks_setting(CONCURRENCY=1)):
        yield task_backends["default"]


def worker_app() -> OneStepApp:
    app = apply_django_defaults(OneStepApp("framework"))
    names = install_configured_backends(app)
    assert names == ["django.tasks:default:default", "django.tasks:default:other"]
    for spec in app.tasks:
        spec.source.fetch_wait_s = 0.05  # type: ignore[union-attr]
    return app


def run_worker() -> None:
    import asyncio

    asyncio.run(worker_app().serve(until_idle=True))


class Signals:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __enter__(self) -> Signals:
        for name, signal in (
            ("enqueued", task_enqueued),
            ("started", task_started),
            ("finished", task_finished),
        ):
            signal.connect(self._receiver(name), weak=False, dispatch_uid=f"test-{name}")
        return self

    def _receiver(self, name: str) -> Any:
        def receive(sender: Any, task_result: Any, **kwargs: Any) -> None:
            assert sender is DatabaseBackend
            self.seen.append((name, task_result.id, str(task_result.status)))

        return receive

    def __exit__(self, *exc: object) -> None:
        for name, signal in (
            ("enqueued", task_enqueued),
            ("started", task_started),
            ("finished", task_finished),
        ):
            signal.disconnect(dispatch_uid=f"test-{name}")


def test_capability_flags_are_true_and_bad_options_name_themselves(backend: DatabaseBackend) -> None:
    assert isinstance(backend, DatabaseBackend)
    assert (backend.supports_defer, backend.supports_async_task, backend.supports_get_result) == (
        True,
        True,
        True,
    )
    assert backend.supports_priority is True
    from django_onestep.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"TASKS\['x'\]\['OPTIONS'\]: unknown option 'RETRIES'"):
        DatabaseBackend("x", {"OPTIONS": {"RETRIES": 3}})


def test_enqueue_runs_in_the_worker_and_get_result_reads_success(backend: DatabaseBackend) -> None:
    with Signals() as signals:
        result = ft.add.enqueue(2, 3)
        assert (result.status, result.backend, result.args, result.kwargs) == (
            TaskResultStatus.READY,
            "default",
            [2, 3],
            {},
        )
        job = Job.objects.get(pk=int(result.id))
        assert (job.queue, job.payload["task"]) == ("django.tasks:default", "tests.framework_tasks.add")
        run_worker()
    fetched = ft.add.get_result(result.id)
    assert (fetched.status, fetched.return_value, fetched.attempts, fetched.errors) == (
        TaskResultStatus.SUCCESSFUL,
        5,
        1,
        [],
    )
    assert fetched.enqueued_at <= fetched.started_at <= fetched.finished_at
    result.refresh()
    assert (result.status, result.return_value, result.is_finished) == (TaskResultStatus.SUCCESSFUL, 5, True)
    assert signals.seen == [
        ("enqueued", result.id, "READY"),
        ("started", result.id, "RUNNING"),
        ("finished", result.id, "SUCCESSFUL"),
    ]


def test_enqueue_inside_a_rolled_back_transaction_never_runs(backend: DatabaseBackend, tmp_path: Any) -> None:
    log = tmp_path / "runs.log"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONESTEP_TEST_RUN_LOG", str(log))
        with pytest.raises(RuntimeError, match="roll back"), transaction.atomic():
            rolled_back = ft.record.enqueue("rolled back")
            raise RuntimeError("roll back")
        # asked before the next insert: SQLite may give a rolled-back id out again
        with pytest.raises(TaskResultDoesNotExist):
            backend.get_result(rolled_back.id)
        with transaction.atomic():
            kept = ft.record.enqueue("committed")
        run_worker()
    assert log.read_text().splitlines() == ["committed"]
    assert backend.get_result(kept.id).return_value == "committed"


def test_run_after_defers_the_run(backend: DatabaseBackend) -> None:
    later = timezone.now() + timedelta(hours=1)
    deferred = ft.add.using(run_after=later).enqueue(1, 1)
    due = ft.add.using(run_after=timezone.now() - timedelta(seconds=1)).enqueue(2, 2)
    run_worker()
    assert backend.get_result(deferred.id).status == TaskResultStatus.READY
    assert Job.objects.get(pk=int(deferred.id)).available_at == later
    assert backend.get_result(due.id).return_value == 4


def test_priority_orders_the_runs(backend: DatabaseBackend, tmp_path: Any) -> None:
    log = tmp_path / "runs.log"
    for label, priority in (("low", -10), ("high", 50), ("default", 0), ("highest", 100)):
        ft.record.using(priority=priority).enqueue(label)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONESTEP_TEST_RUN_LOG", str(log))
        run_worker()  # CONCURRENCY=1: one run at a time, in claim order
    assert log.read_text().splitlines() == ["highest", "high", "default", "low"]


def test_get_result_reads_a_failure_with_its_exception_class_and_traceback(backend: DatabaseBackend) -> None:
    with Signals() as signals:
        result = ft.fails.enqueue("no stock for order 7")
        run_worker()
    fetched = backend.get_result(result.id)
    assert (fetched.status, fetched.attempts) == (TaskResultStatus.FAILED, 1)
    (error,) = fetched.errors
    assert error.exception_class is ValueError
    assert "no stock for order 7" in error.traceback
    with pytest.raises(ValueError, match="Task failed"):
        fetched.return_value  # noqa: B018 - the read is the test
    assert signals.seen[-1] == ("finished", result.id, "FAILED")
    dead = DeadLetter.objects.get(job_id=int(result.id))  # the operations console shows it
    assert (dead.task, dead.exception_type) == ("django.tasks:default:default", "ValueError")


def test_retries_come_from_options_with_a_per_task_override() -> None:
    setting = tasks_setting(
        CONCURRENCY=1,
        RETRY={"type": "max_attempts", "max_attempts": 2},
        TASK_RETRY={"tests.framework_tasks.flaky": {"type": "max_attempts", "max_attempts": 4}},
    )
    with override_settings(TASKS=setting):
        backend = task_backends["default"]
        key = f"k-{timezone.now().timestamp()}"
        flaky = ft.flaky.enqueue(key, 3)  # fails 3 times: only the per-task policy lets it finish
        failing = ft.fails.enqueue("always")
        run_worker()
        succeeded = backend.get_result(flaky.id)
        assert (succeeded.status, succeeded.return_value, succeeded.attempts) == (
            TaskResultStatus.SUCCESSFUL,
            4,
            4,
        )
        failed = backend.get_result(failing.id)
        assert (failed.status, failed.attempts) == (TaskResultStatus.FAILED, 2)


def test_async_tasks_context_and_a_third_party_task_run_unchanged(backend: DatabaseBackend) -> None:
    import asyncio

    multiplied = asyncio.run(ft.async_multiply.aenqueue(6, 7))
    context = ft.with_context.using(queue_name="other").enqueue("ctx")
    third_party = ft.wagtail_like.enqueue(object_id=42)
    run_worker()
    assert asyncio.run(ft.async_multiply.aget_result(multiplied.id)).return_value == 42
    assert backend.get_result(context.id).return_value == {"id": context.id, "attempt": 1, "label": "ctx"}
    assert backend.get_result(context.id).task.queue_name == "other"
    assert backend.get_result(third_party.id).return_value == {"indexed": "pages.page:42"}


def test_runs_are_concurrent_with_the_concurrency_option() -> None:
    with override_settings(TASKS=tasks_setting(CONCURRENCY=2)):
        first, second = ft.meet.enqueue("a"), ft.meet.enqueue("b")
        run_worker()  # each run waits for the other: only two at once finish
        backend = task_backends["default"]
        assert [backend.get_result(r.id).return_value for r in (first, second)] == ["a", "b"]


def test_get_result_of_an_unknown_or_foreign_id_does_not_exist(backend: DatabaseBackend) -> None:
    from django_onestep.dbqueue.queue import DatabaseQueue

    foreign = DatabaseQueue("not-framework").send({"x": 1})
    for result_id in ("987654321", "abc", str(foreign)):
        with pytest.raises(TaskResultDoesNotExist):
            backend.get_result(result_id)
    with pytest.raises(TaskResultDoesNotExist):
        asyncio_run(backend.aget_result("987654321"))


def asyncio_run(awaitable: Any) -> Any:
    import asyncio

    async def run() -> Any:
        return await awaitable

    return asyncio.run(run())


async def test_aenqueue_from_async_code(backend: DatabaseBackend) -> None:
    result = await ft.add.aenqueue(20, 22)
    assert await orm(lambda: Job.objects.filter(pk=int(result.id)).exists())()


def test_bad_worker_options_name_the_setting() -> None:
    from django_onestep.core.errors import ConfigurationError

    with (
        override_settings(TASKS=tasks_setting(CONCURRENCY=0)),
        pytest.raises(ConfigurationError, match=r"TASKS\['default'\]\['OPTIONS'\]\['CONCURRENCY'\]"),
    ):
        install_configured_backends(OneStepApp("bad"))
    with (
        override_settings(TASKS=tasks_setting(RETRY={"type": "max_attempts", "max_attempts": 0})),
        pytest.raises(ConfigurationError, match=r"TASKS\['default'\]\['OPTIONS'\]\['RETRY'\]"),
    ):
        install_configured_backends(OneStepApp("bad"))
    plain = OneStepApp("plain")
    with override_settings(
        TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    ):
        assert install_configured_backends(plain) == []  # another backend: nothing added
    assert plain.tasks == []
