"""Task definition mistakes raise one-line ConfigurationErrors naming the task and the fix."""

from __future__ import annotations

import pytest

from django_onestep import MemoryQueue, OneStepApp
from django_onestep.core.errors import ConfigurationError


def _define(**options: object) -> None:
    app = OneStepApp("shop")

    @app.task(source=MemoryQueue("emails"), **options)  # type: ignore[arg-type]
    def send_email(ctx, payload): ...


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"bind": True},
            "task 'send_email': unknown option 'bind' "
            "(the handler always gets ctx first: def handler(ctx, payload))",
        ),
        (
            {"max_retries": 3},
            "task 'send_email': unknown option 'max_retries' (use retry=MaxAttempts(n) / ExponentialBackoff(...))",
        ),
        (
            {"autoretry_for": (OSError,)},
            "task 'send_email': unknown option 'autoretry_for' (use retry=MaxAttempts(n) / ExponentialBackoff(...))",
        ),
        (
            {"queue": "emails"},
            "task 'send_email': unknown option 'queue' (use source=DatabaseQueue('name'))",
        ),
        ({"countdown": 10}, "task 'send_email': unknown option 'countdown' (pass delay_s to enqueue())"),
        (
            {"default_retry_delay": 5},
            "task 'send_email': unknown option 'default_retry_delay' (use retry=MaxAttempts(n, delay_s=...))",
        ),
        (
            {"rate_limit": "10/m"},
            "task 'send_email': unknown option 'rate_limit' "
            "(there is no rate limit; concurrency=N bounds the runs in flight)",
        ),
        (
            {"ignore_result": True},
            "task 'send_email': unknown option 'ignore_result' (use store_result=False)",
        ),
        (
            {"acks_late": True},
            "task 'send_email': unknown option 'acks_late' "
            "(a delivery is always acknowledged after its handler finishes)",
        ),
        (
            {"time_limit": 30},
            "task 'send_email': unknown option 'time_limit' "
            "(use time_limit_s=... with executor='process' (the child process is killed))",
        ),
        (
            {"soft_time_limit": 30},
            "task 'send_email': unknown option 'soft_time_limit' (use timeout_s=... (raised in the handler))",
        ),
        # not Celery: a typo gets the close option, anything else the list of options
        ({"concurency": 2}, "task 'send_email': unknown option 'concurency' (did you mean 'concurrency'?)"),
        (
            {"colour": "red"},
            "task 'send_email': unknown option 'colour' (options: name, source, emit, dead_letter, "
            "concurrency, retry, timeout_s, config, hooks, description, executor, time_limit_s, "
            "batch_size, batch_within_s, store_result, leader_only)",
        ),
        (
            {"bind": True, "queue": "emails"},
            "task 'send_email': unknown option 'bind' "
            "(the handler always gets ctx first: def handler(ctx, payload)); also unknown: 'queue'",
        ),
        (
            {"name": "mailer", "max_retries": 3},
            "task 'mailer': unknown option 'max_retries' (use retry=MaxAttempts(n) / ExponentialBackoff(...))",
        ),
    ],
)
def test_an_unknown_option_names_itself_the_task_and_the_fix(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        _define(**options)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_decorator_without_parentheses_is_an_error_naming_the_function() -> None:
    app = OneStepApp("shop")
    with pytest.raises(ConfigurationError) as info:

        @app.task
        def send_email(ctx, payload): ...

    assert str(info.value) == (
        "task 'send_email': @app.task needs parentheses: write @app.task() (with source=... for it to get work)"
    )
    assert app.tasks == []  # nothing registered
    with pytest.raises(
        ConfigurationError, match=r"^app.task\(\) takes its options by keyword .*, got 'mailer'$"
    ):
        app.task("mailer")


@pytest.mark.parametrize(
    ("handler_source", "message"),
    [
        (
            "def send_email(payload): ...",
            "task 'send_email': the handler must accept (ctx, payload); send_email(payload) does not "
            "(define it as def send_email(ctx, payload))",
        ),
        (
            "async def send_email(ctx, payload, extra): ...",
            "task 'send_email': the handler must accept (ctx, payload); send_email(ctx, payload, extra) "
            "does not (define it as async def send_email(ctx, payload))",
        ),
    ],
)
def test_a_bad_handler_signature_hints_at_ctx_and_payload(handler_source: str, message: str) -> None:
    namespace: dict[str, object] = {}
    exec(handler_source, namespace)
    app = OneStepApp("shop")
    with pytest.raises(ConfigurationError) as info:
        app.task(source=MemoryQueue("emails"))(namespace["send_email"])
    assert str(info.value) == message
    assert "unique name" not in str(info.value)


def test_a_name_clash_says_to_give_every_task_a_unique_name() -> None:
    app = OneStepApp("shop")

    @app.task(source=MemoryQueue("a"))
    def sync(ctx, payload): ...

    with pytest.raises(ConfigurationError) as info:

        @app.task(name="sync", source=MemoryQueue("b"))
        def other(ctx, payload): ...

    assert str(info.value) == (
        "duplicate task name 'sync' in app 'shop' (give every task a unique name: @app.task(name=...))"
    )


def test_store_result_must_be_a_bool_and_is_kept_on_the_spec() -> None:
    from django_onestep.core.runtime.app import OneStepApp as App

    app = App("store")
    with pytest.raises(ConfigurationError, match="task 'keep': store_result must be True or False, got 'no'"):
        app.task(name="keep", store_result="no")(lambda ctx, payload: None)  # type: ignore[arg-type]
    app.task(name="off", store_result=False)(lambda ctx, payload: None)
    app.task(name="on")(lambda ctx, payload: None)
    assert [(spec.name, spec.store_result) for spec in app.tasks] == [("off", False), ("on", True)]
