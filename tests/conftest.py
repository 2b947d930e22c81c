"""Shared test plumbing.

Real servers are started by ``make test`` (``python -m tests.servers start``), which
exports their URLs. A test that needs one asks ``require_server(ENV_VAR)``: on a laptop
without the server it skips; when ``CI`` is set it fails, so CI can never go green by
skipping the tests that matter.
"""

from __future__ import annotations

import pytest

from tests.needs import require_server


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
