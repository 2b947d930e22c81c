"""The ONESTEP settings object: defaults, lazy reads, override_settings, errors naming keys."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_onestep import checks
from django_onestep.apps import load_settings_tasks
from django_onestep.conf import DEFAULTS, OneStepSettingsError, get_settings, onestep_settings
from django_onestep.core.retry import MaxAttempts
from django_onestep.project import project_app
from django_onestep.project.project_app import build_project_app


def test_defaults_fill_every_key_not_given() -> None:
    with override_settings(ONESTEP={"APP_NAME": "shop"}):
        conf = get_settings()
        assert conf.APP_NAME == "shop"
        assert conf.TASK_MODULES == ["tasks"]
        assert conf.LEASE_S == 30.0
        assert conf.SHUTDOWN_TIMEOUT_S == 30.0
        assert conf.DATABASE == "default"
        assert conf.STATE == "database"
        assert conf.WEBHOOKS == {
            "BASE_PATH": "onestep/webhooks/",
            "MAX_BODY_BYTES": 1048576,
            "KEEP_HEADERS": [],
        }
        assert set(conf.as_dict()) == set(DEFAULTS)


def test_missing_setting_means_all_defaults() -> None:
    with override_settings():
        from django.conf import settings

        del settings.ONESTEP
        assert get_settings().APP_NAME == "django_onestep"


def test_override_settings_takes_effect_and_is_undone() -> None:
    before = onestep_settings.LEASE_S
    with override_settings(ONESTEP={"LEASE_S": 2}):
        assert onestep_settings.LEASE_S == 2.0
    assert onestep_settings.LEASE_S == before


def test_defaults_are_copied_not_shared() -> None:
    with override_settings(ONESTEP={}):
        get_settings().CONFIG["x"] = 1
    with override_settings(ONESTEP={}):
        assert get_settings().CONFIG == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"LEASE_S": -1}, 'ONESTEP["LEASE_S"]: must be > 0, got -1'),
        ({"LEASE_S": "30"}, "ONESTEP[\"LEASE_S\"]: must be a number, got '30'"),
        # an infinite lease never expires, a NaN one compares false with everything
        ({"LEASE_S": float("inf")}, 'ONESTEP["LEASE_S"]: must be a finite number, got inf'),
        ({"POLL_INTERVAL_S": float("nan")}, 'ONESTEP["POLL_INTERVAL_S"]: must be a finite number, got nan'),
        (
            {"DONE_JOB_RETENTION_S": "7d"},
            "ONESTEP[\"DONE_JOB_RETENTION_S\"]: must be a number or None, got '7d'",
        ),
        ({"SHUTDOWN_TIMEOUT_S": 0}, 'ONESTEP["SHUTDOWN_TIMEOUT_S"]: must be > 0, got 0'),
        ({"BATCH_SIZE": 0}, 'ONESTEP["BATCH_SIZE"]: must be >= 1, got 0'),
        ({"BATCH_SIZE": True}, 'ONESTEP["BATCH_SIZE"]: must be an integer, got True'),
        ({"APP_NAME": ""}, "ONESTEP[\"APP_NAME\"]: must be a non-empty string, got ''"),
        ({"TASK_MODULES": "tasks"}, "ONESTEP[\"TASK_MODULES\"]: must be a list of module names, got 'tasks'"),
        (
            {"TASK_MODULES": ["my-tasks"]},
            "ONESTEP[\"TASK_MODULES\"]: 'my-tasks' is not a module name (e.g. 'tasks')",
        ),
        ({"CONFIG": [1]}, 'ONESTEP["CONFIG"]: must be a dict, got list'),
        (
            {"DATABASE": "nope"},
            "ONESTEP[\"DATABASE\"]: unknown database alias 'nope' (DATABASES has: default)",
        ),
        (
            {"STATE": "redis"},
            "ONESTEP[\"STATE\"]: must be 'database', 'memory', a dotted path or a store object, got 'redis'",
        ),
        ({"LOG_FORMAT": "xml"}, "ONESTEP[\"LOG_FORMAT\"]: must be 'text' or 'json', got 'xml'"),
        ({"WEBHOOKS": {"MAX_BODY_BYTES": 0}}, 'ONESTEP["WEBHOOKS"]["MAX_BODY_BYTES"]: must be >= 1, got 0'),
        ({"PROCESS_POOL": {"SIZE": 0}}, 'ONESTEP["PROCESS_POOL"]["SIZE"]: must be >= 1, got 0'),
        (
            {"PROCESS_POOL": {"MAX_MEMORY_PER_CHILD_MB": "1G"}},
            'ONESTEP["PROCESS_POOL"]["MAX_MEMORY_PER_CHILD_MB"]: must be a number or None, got \'1G\'',
        ),
        (
            {"PROCESS_POOL": {"MAX_TASKS": 5}},
            'ONESTEP["PROCESS_POOL"]["MAX_TASKS"]: unknown setting; did you mean MAX_TASKS_PER_CHILD?',
        ),
        (
            {"WEBHOOKS": {"KEEP_HEADERS": "x-a"}},
            'ONESTEP["WEBHOOKS"]["KEEP_HEADERS"]: must be a list of header names, got \'x-a\'',
        ),
        (
            {"DEFAULT_RETRY": {"type": "forever"}},
            'ONESTEP["DEFAULT_RETRY"]["type"]: unknown retry type \'forever\' '
            "(known: by_failure_kind, exponential_backoff, max_attempts, no_retry, none)",
        ),
        # the policy's options are checked here too, not later by whichever tasks.py uses them
        (
            {"DEFAULT_RETRY": {"type": "max_attempts", "max_attempts": 0}},
            'ONESTEP["DEFAULT_RETRY"]["max_attempts"]: must be >= 1, got 0',
        ),
        (
            {"DEFAULT_RETRY": {"type": "max_attempts", "attempts": 3}},
            'ONESTEP["DEFAULT_RETRY"]["attempts"]: unknown option for type \'max_attempts\' '
            "(known: max_attempts, delay_s)",
        ),
        (
            {"DEFAULT_RETRY": {"type": "exponential_backoff", "min_delay_s": 5, "max_delay_s": 1}},
            'ONESTEP["DEFAULT_RETRY"]["max_delay_s"]: must be >= min_delay_s (5.0), got 1',
        ),
        (
            {"DEFAULT_RETRY": {"type": "none", "delay_s": 1}},
            'ONESTEP["DEFAULT_RETRY"]["delay_s"]: type \'none\' takes no options',
        ),
    ],
)
def test_invalid_values_name_the_key(raw: dict[str, object], message: str) -> None:
    with override_settings(ONESTEP=raw), pytest.raises(OneStepSettingsError) as info:
        get_settings()
    assert str(info.value) == message
    assert isinstance(info.value, ImproperlyConfigured)


def test_unknown_key_suggests_the_close_one() -> None:
    with override_settings(ONESTEP={"LEASE": 5}), pytest.raises(OneStepSettingsError) as info:
        get_settings()
    assert info.value.key == "LEASE"
    assert str(info.value) == 'ONESTEP["LEASE"]: unknown setting; did you mean LEASE_S?'


def test_unknown_key_without_a_close_one_is_reported_with_the_known_ones() -> None:
    with override_settings(ONESTEP={"COLOUR": 5}), pytest.raises(OneStepSettingsError) as info:
        get_settings()
    assert info.value.key == "COLOUR"
    assert str(info.value).startswith('ONESTEP["COLOUR"]: unknown setting (known keys: APP_NAME, BATCH_SIZE,')
    assert "LEASE_S" in str(info.value)


def test_not_a_dict() -> None:
    # a OneStepSettingsError like every other bad value: E001 and exit 2, not a traceback
    with override_settings(ONESTEP=["x"]), pytest.raises(OneStepSettingsError) as info:
        get_settings()
    assert str(info.value) == "ONESTEP: must be a dict, got list"


def test_retention_accepts_none_to_keep_forever() -> None:
    with override_settings(ONESTEP={"DONE_JOB_RETENTION_S": None, "METRICS_RETENTION_S": 86400}):
        assert get_settings().DONE_JOB_RETENTION_S is None
        assert get_settings().METRICS_RETENTION_S == 86400.0


# -- retry policies: DEFAULT_RETRY and ONESTEP["TASKS"] take every form a YAML task's retry
# takes, through the same builder, and name the offending key the same way.

HANDLER = "tests.core.fixtures.yaml_handlers:sync_billing"
NO_RETRY = ("NoRetry", {})
MAX_3 = ("MaxAttempts", {"max_attempts": 3, "delay_s": None})
BY_KIND = {
    "type": "by_failure_kind",
    "timeout": {"type": "exponential_backoff", "max_attempts": 5, "max_delay_s": 300},
    "default": "no_retry",
    "error": None,  # left out, as onestep does
}
BY_KIND_POLICY = (
    "ByFailureKind",
    {
        "_policies": {
            "timeout": (
                "ExponentialBackoff",
                {
                    "max_attempts": 5,
                    "min_delay_s": 1.0,
                    "max_delay_s": 300.0,
                    "multiplier": 2.0,
                    "jitter": "none",
                },
            ),
            "default": NO_RETRY,
        }
    },
)
RETRY_FORMS = [
    ("none", NO_RETRY),
    ("no_retry", NO_RETRY),
    ({"type": "no_retry"}, NO_RETRY),
    ({"type": "none"}, NO_RETRY),
    ("max_attempts", MAX_3),
    (
        {"type": "max_attempts", "max_attempts": 4, "delay_s": 2},
        ("MaxAttempts", {"max_attempts": 4, "delay_s": 2.0}),
    ),
    (
        {"type": "exponential_backoff", "max_attempts": 5, "min_delay_s": 0.5, "jitter": "full"},
        (
            "ExponentialBackoff",
            {"max_attempts": 5, "min_delay_s": 0.5, "max_delay_s": 60.0, "multiplier": 2.0, "jitter": "full"},
        ),
    ),
    (BY_KIND, BY_KIND_POLICY),
    (
        {"type": "by_failure_kind", "cancelled": MaxAttempts(7)},
        (
            "ByFailureKind",
            {"_policies": {"cancelled": ("MaxAttempts", {"max_attempts": 7, "delay_s": None})}},
        ),
    ),
    (MaxAttempts(6, delay_s=1), ("MaxAttempts", {"max_attempts": 6, "delay_s": 1.0})),
]


def describe(policy: Any) -> Any:
    """A policy as comparable data: its class and options, sub-policies included."""
    if isinstance(policy, dict):
        return {key: describe(value) for key, value in policy.items()}
    if callable(getattr(policy, "on_error", None)):
        return (type(policy).__name__, {key: describe(value) for key, value in vars(policy).items()})
    return policy


@pytest.mark.parametrize(("spec", "expected"), RETRY_FORMS)
def test_default_retry_takes_every_retry_form(spec: Any, expected: Any) -> None:
    with override_settings(ONESTEP={"DEFAULT_RETRY": spec}):
        app = build_project_app()

    @app.task()
    def implicit(ctx, payload):
        return None

    assert describe(app.get_task("implicit").retry) == expected


def test_default_retry_none_leaves_the_runtime_default() -> None:
    with override_settings(ONESTEP={"DEFAULT_RETRY": None}):
        assert get_settings().DEFAULT_RETRY is None
        app = build_project_app()

    @app.task()
    def implicit(ctx, payload):
        return None

    assert describe(app.get_task("implicit").retry) == NO_RETRY


def test_a_default_retry_policy_object_is_used_as_it_is() -> None:
    policy = MaxAttempts(2)
    with override_settings(ONESTEP={"DEFAULT_RETRY": policy}):
        assert get_settings().DEFAULT_RETRY is policy


def _settings_tasks(tasks: list[dict[str, Any]], onestep: dict[str, Any] | None = None) -> Any:
    """Register ``tasks`` as ONESTEP["TASKS"] on a fresh project app; return it."""
    with override_settings(ONESTEP=onestep or {}):
        app = build_project_app()
        previous, project_app._app = project_app._app, app
        try:
            load_settings_tasks({}, tasks)
        finally:
            project_app._app = previous
    return app


@pytest.mark.parametrize(("spec", "expected"), RETRY_FORMS)
def test_settings_tasks_take_every_retry_form(spec: Any, expected: Any) -> None:
    app = _settings_tasks([{"name": "t", "handler": HANDLER, "retry": spec}])
    assert describe(app.get_task("t").retry) == expected


def test_a_settings_task_without_retry_gets_default_retry() -> None:
    app = _settings_tasks(
        [{"name": "bare", "handler": HANDLER}, {"name": "null", "handler": HANDLER, "retry": None}],
        {"DEFAULT_RETRY": BY_KIND},
    )
    assert describe(app.get_task("bare").retry) == BY_KIND_POLICY
    assert describe(app.get_task("null").retry) == BY_KIND_POLICY


KNOWN_TYPES = "(known: by_failure_kind, exponential_backoff, max_attempts, no_retry, none)"
# (spec, path below the retry key, problem): the same for both settings
RETRY_ERRORS = [
    (5, "", "must be a retry type name, a mapping with 'type' or a RetryPolicy, got 5"),
    ({"max_attempts": 3}, ".type", f"is required {KNOWN_TYPES}"),
    ("forever", ".type", f"unknown retry type 'forever' {KNOWN_TYPES}"),
    ({"type": "no_retry", "delay_s": 1}, ".delay_s", "type 'no_retry' takes no options"),
    ({"type": "max_attempts", "max_attempts": 0}, ".max_attempts", "must be >= 1, got 0"),
    ({"type": "exponential_backoff", "multiplier": "x"}, ".multiplier", "must be a number, got 'x'"),
    (
        {"type": "by_failure_kind", "error": {"type": "max_attempts", "max_attempts": 0}},
        ".error.max_attempts",
        "must be >= 1, got 0",
    ),
    (
        {"type": "by_failure_kind", "timeout": {"type": "exponential_backoff", "jitter": "wild"}},
        ".timeout.jitter",
        "must be one of ['none', 'full', 'equal'], got 'wild'",
    ),
    (
        {"type": "by_failure_kind", "oops": "none"},
        ".oops",
        "unknown option for type 'by_failure_kind' (known: default, error, timeout, cancelled)",
    ),
    (
        {"type": "by_failure_kind"},
        "",
        "by_failure_kind needs a policy for one of default, error, timeout, cancelled",
    ),
]


@pytest.mark.parametrize(("spec", "path", "problem"), RETRY_ERRORS)
def test_default_retry_errors_name_the_key(spec: Any, path: str, problem: str) -> None:
    with override_settings(ONESTEP={"DEFAULT_RETRY": spec}), pytest.raises(OneStepSettingsError) as info:
        get_settings()
    keys = "".join(f'["{part}"]' for part in path.split(".") if part)
    assert str(info.value) == f'ONESTEP["DEFAULT_RETRY"]{keys}: {problem}'


@pytest.mark.parametrize(("spec", "path", "problem"), RETRY_ERRORS)
def test_settings_task_retry_errors_name_the_path(
    spec: Any, path: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "_discovery_errors", [])
    app = _settings_tasks(
        [{"name": "ok", "handler": HANDLER}, {"name": "t", "handler": HANDLER, "retry": spec}]
    )
    (message,) = checks.discovery_errors()
    assert message.msg == (
        f'tasks in ONESTEP["TASKS"] could not be registered: ConfigurationError: tasks[1].retry{path}: {problem}'
    )
    assert app.tasks == []


# -- one reader: every module reads ONESTEP through get_settings(), which follows
# override_settings, with no fallback of its own that could hide a broken setting.


def test_objects_built_from_the_settings_read_the_current_ones() -> None:
    from django_onestep.dbqueue.queue import DatabaseQueue
    from django_onestep.orm.dead_letters import DatabaseDeadLetters
    from django_onestep.orm.stores import DatabaseStateStore
    from django_onestep.orm.telemetry import HeartbeatWriter, MetricsRecorder

    onestep = {
        "LEASE_S": 7,
        "BATCH_SIZE": 3,
        "POLL_INTERVAL_S": 0.5,
        "MAX_DELIVERIES": 2,
        "DONE_JOB_RETENTION_S": None,
        "METRICS_FLUSH_INTERVAL_S": 9,
        "METRICS_RETENTION_S": 60,
        "WORKER_HEARTBEAT_S": 4,
    }
    with override_settings(ONESTEP=onestep):
        queue = DatabaseQueue("conf.reader")
        recorder = MetricsRecorder("a")
        heartbeat = HeartbeatWriter("a", [])
        stores = [DatabaseStateStore(), DatabaseDeadLetters()]
    assert (queue.lease_s, queue.batch_size, queue.poll_interval_s) == (7.0, 3, 0.5)
    assert (queue.max_deliveries, queue.done_retention_s) == (2, None)
    assert (recorder.flush_interval_s, recorder.retention_s, heartbeat.interval_s) == (9.0, 60.0, 4.0)
    assert [s.using for s in stores] == ["default", "default"]


PACKAGE = Path(__file__).resolve().parents[2] / "django_onestep"


def _fallbacks_around_get_settings(tree: ast.AST) -> list[int]:
    """Lines of ``try: ... get_settings() ... except (ImportError|AttributeError)``."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        calls = {
            sub.func.id if isinstance(sub.func, ast.Name) else getattr(sub.func, "attr", "")
            for stmt in node.body
            for sub in ast.walk(stmt)
            if isinstance(sub, ast.Call)
        }
        caught = {
            name.id
            for handler in node.handlers
            if handler.type is not None
            for name in ast.walk(handler.type)
            if isinstance(name, ast.Name)
        }
        if "get_settings" in calls and caught & {"ImportError", "AttributeError", "Exception"}:
            found.append(node.lineno)
    return found


def test_no_module_reads_onestep_settings_around_get_settings() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "conf.py" and path.parent == PACKAGE:
            continue
        text = path.read_text()
        name = path.relative_to(PACKAGE.parent)
        if re.search(r"settings\.ONESTEP\b|getattr\(\s*settings,\s*['\"]ONESTEP['\"]", text):
            offenders.append(f"{name}: reads settings.ONESTEP itself")
        offenders += [
            f"{name}:{line}: a fallback around get_settings()"
            for line in _fallbacks_around_get_settings(ast.parse(text))
        ]
    assert offenders == []


def test_the_project_app_takes_its_process_pool_from_the_settings() -> None:
    from django_onestep.project.project_app import build_project_app

    raw = {"PROCESS_POOL": {"SIZE": 3, "MAX_TASKS_PER_CHILD": 50, "MAX_MEMORY_PER_CHILD_MB": 256}}
    with override_settings(ONESTEP=raw):
        options = build_project_app().process_pool_options
    assert (options.size, options.max_tasks_per_child, options.max_memory_per_child_mb) == (3, 50, 256)
    assert options.setup_path == "django_onestep.project.child_process:setup"
