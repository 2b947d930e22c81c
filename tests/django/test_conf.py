"""The ONESTEP settings object: defaults, lazy reads, override_settings, errors naming keys."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_onestep.conf import DEFAULTS, OneStepSettingsError, get_settings, onestep_settings


def test_defaults_fill_every_key_not_given() -> None:
    with override_settings(ONESTEP={"APP_NAME": "shop"}):
        conf = get_settings()
        assert conf.APP_NAME == "shop"
        assert conf.TASK_MODULES == ["tasks"]
        assert conf.LEASE_S == 30.0
        assert conf.SHUTDOWN_TIMEOUT_S == 30.0
        assert conf.DATABASE == "default"
        assert conf.STATE == "database"
        assert conf.WEBHOOKS == {"BASE_PATH": "onestep/webhooks/", "MAX_BODY_BYTES": 1048576}
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
        (
            {"DEFAULT_RETRY": {"type": "forever"}},
            "ONESTEP[\"DEFAULT_RETRY\"][\"type\"]: must be 'none', 'max_attempts' or 'exponential_backoff', got 'forever'",
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


def test_unknown_key_is_reported_with_the_known_ones() -> None:
    with override_settings(ONESTEP={"LEASE": 5}), pytest.raises(OneStepSettingsError) as info:
        get_settings()
    assert info.value.key == "LEASE"
    assert str(info.value).startswith('ONESTEP["LEASE"]: unknown setting (known keys: APP_NAME, BATCH_SIZE,')
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
