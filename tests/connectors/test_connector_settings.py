"""Constructor checks shared by the broker connectors: the offending key or value named."""

from __future__ import annotations

import pytest

from django_onestep.connectors.settings_checks import checked_options, checked_url
from django_onestep.core.errors import ConfigurationError


def test_checked_url() -> None:
    assert checked_url("x", "amqp://u:p@h:5672/", ("amqp://", "amqps://")) == "amqp://u:p@h:5672/"
    assert checked_url("redis", "unix:///run/redis.sock", ("redis://", "unix://")) == "unix:///run/redis.sock"
    with pytest.raises(ConfigurationError) as info:
        checked_url("redis", "http://u:s3cr3t@h/", ("redis://", "rediss://", "unix://"))
    assert str(info.value) == (
        "redis url: must start with redis://, rediss:// or unix://, got 'http://u:***@h/'"
    )
    with pytest.raises(ConfigurationError, match=r"^x url: must start with amqp://, got None$"):
        checked_url("x", None, ("amqp://",))
    with pytest.raises(ConfigurationError) as info:
        checked_url("x", "amqp://u:s3cr3t@h:port/", ("amqp://",))
    assert str(info.value) == (
        "x url 'amqp://u:***@h:port/': Port could not be cast to integer value as 'port'"
    )


def test_checked_options() -> None:
    assert checked_options("x", None) == {}
    given = {"heartbeat": 5}
    copied = checked_options("x", given, {"heartbeat", "locale"})
    assert copied == given and copied is not given
    with pytest.raises(ConfigurationError, match=r"^x options: must be a mapping, got list$"):
        checked_options("x", [("heartbeat", 5)])
    with pytest.raises(ConfigurationError) as info:
        checked_options("x", {"hartbeat": 5, "locale": "en"}, {"heartbeat", "locale"})
    assert str(info.value) == "x options: unknown key(s) ['hartbeat']; allowed: ['heartbeat', 'locale']"
