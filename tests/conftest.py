"""Shared test plumbing.

Real servers are started by ``make test`` (``python -m tests.servers start``), which
exports their URLs. A test that needs one asks ``require_server(ENV_VAR)``: on a laptop
without the server it skips; when ``CI`` is set it fails, so CI can never go green by
skipping the tests that matter.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require_server(env_var: str) -> str:
    """Return the server URL from ``env_var`` or skip (fail in CI) when it is unset."""
    value = os.environ.get(env_var)
    if value:
        return value
    message = f"{env_var} is not set: start the servers with `make services` (or run `make test`)"
    if IN_CI:
        pytest.fail(f"CI requires this server: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    return require_server("ONESTEP_TEST_REDIS_URL")


@pytest.fixture
def mysql_url() -> str:
    return require_server("ONESTEP_TEST_MYSQL_URL")


@pytest.fixture
def amqp_url() -> str:
    return require_server("ONESTEP_TEST_AMQP_URL")


@pytest.fixture
def sqs_endpoint() -> str:
    return require_server("ONESTEP_TEST_SQS_ENDPOINT")
