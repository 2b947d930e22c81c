"""django-onestep: async background work for Django, onestep 1.x compatible.

Public names are loaded lazily (PEP 562) so ``import django_onestep`` imports neither
Django nor any client library; ``from django_onestep import OneStepApp`` works in a
plain asyncio program.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # What type checkers see: every name of _EXPORTS, imported from its module
    # (``X as X`` marks a re-export), while at runtime ``__getattr__`` loads them lazily.
    # tests/core/test_public_types.py keeps this block and _EXPORTS equal.
    from django_onestep.connectors.mysql.connector import MySQLConnector as MySQLConnector
    from django_onestep.connectors.rabbitmq.connector import RabbitMQConnector as RabbitMQConnector
    from django_onestep.connectors.redis.connector import RedisConnector as RedisConnector
    from django_onestep.connectors.sqs.connector import SQSConnector as SQSConnector
    from django_onestep.connectors.stepfunctions.connector import (
        StepFunctionsConnector as StepFunctionsConnector,
    )
    from django_onestep.core.base import Delivery as Delivery
    from django_onestep.core.base import Sink as Sink
    from django_onestep.core.base import Source as Source
    from django_onestep.core.declarative.loader import load_app_config as load_app_config
    from django_onestep.core.declarative.loader import load_yaml_app as load_yaml_app
    from django_onestep.core.declarative.reporter import ControlPlaneReporter as ControlPlaneReporter
    from django_onestep.core.declarative.reporter import (
        ControlPlaneReporterConfig as ControlPlaneReporterConfig,
    )
    from django_onestep.core.envelope import Envelope as Envelope
    from django_onestep.core.errors import ConfigurationError as ConfigurationError
    from django_onestep.core.errors import ConnectorErrorKind as ConnectorErrorKind
    from django_onestep.core.errors import ConnectorOperation as ConnectorOperation
    from django_onestep.core.errors import ConnectorOperationError as ConnectorOperationError
    from django_onestep.core.errors import MissingExtraError as MissingExtraError
    from django_onestep.core.errors import OneStepError as OneStepError
    from django_onestep.core.errors import PoisonMessageError as PoisonMessageError
    from django_onestep.core.events import StructuredEventLogger as StructuredEventLogger
    from django_onestep.core.events import TaskEvent as TaskEvent
    from django_onestep.core.events import TaskEventKind as TaskEventKind
    from django_onestep.core.http.http_sink import HttpSink as HttpSink
    from django_onestep.core.http.http_sink import HttpSinkStatusError as HttpSinkStatusError
    from django_onestep.core.http.webhook import BearerAuth as BearerAuth
    from django_onestep.core.http.webhook import WebhookResponse as WebhookResponse
    from django_onestep.core.http.webhook import WebhookSource as WebhookSource
    from django_onestep.core.http.webhook_hmac import HmacAuth as HmacAuth
    from django_onestep.core.metrics import InMemoryMetrics as InMemoryMetrics
    from django_onestep.core.retry import ByFailureKind as ByFailureKind
    from django_onestep.core.retry import ExponentialBackoff as ExponentialBackoff
    from django_onestep.core.retry import FailureInfo as FailureInfo
    from django_onestep.core.retry import FailureKind as FailureKind
    from django_onestep.core.retry import MaxAttempts as MaxAttempts
    from django_onestep.core.retry import NoRetry as NoRetry
    from django_onestep.core.retry import RetryAction as RetryAction
    from django_onestep.core.retry import RetryDecision as RetryDecision
    from django_onestep.core.retry import RetryPolicy as RetryPolicy
    from django_onestep.core.runtime.app import OneStepApp as OneStepApp
    from django_onestep.core.runtime.batch_context import BatchContext as BatchContext
    from django_onestep.core.runtime.batch_context import BatchItem as BatchItem
    from django_onestep.core.runtime.context import TaskContext as TaskContext
    from django_onestep.core.runtime.memory import MemoryQueue as MemoryQueue
    from django_onestep.core.runtime.task import TaskHooks as TaskHooks
    from django_onestep.core.schedules.cron import CronSource as CronSource
    from django_onestep.core.schedules.interval import IntervalSource as IntervalSource
    from django_onestep.core.state import CursorStore as CursorStore
    from django_onestep.core.state import InMemoryCursorStore as InMemoryCursorStore
    from django_onestep.core.state import InMemoryStateStore as InMemoryStateStore
    from django_onestep.core.state import ScopedState as ScopedState
    from django_onestep.core.state import StateStore as StateStore
    from django_onestep.dbqueue.queue import DatabaseQueue as DatabaseQueue
    from django_onestep.orm.stores import DatabaseCursorStore as DatabaseCursorStore
    from django_onestep.orm.stores import DatabaseStateStore as DatabaseStateStore
    from django_onestep.project.project_app import app as app
    from django_onestep.pushes.outbox import push as push
    from django_onestep.results.handle import JobError as JobError
    from django_onestep.results.handle import JobFailed as JobFailed
    from django_onestep.results.handle import JobHandle as JobHandle
    from django_onestep.results.handle import JobNotFound as JobNotFound
    from django_onestep.results.handle import get_job as get_job
    from django_onestep.submissions.producer import asubmit as asubmit
    from django_onestep.submissions.producer import submit as submit
    from django_onestep.submissions.source import SubmissionSource as SubmissionSource
    from django_onestep.submissions.strategies import prefer_distinct as prefer_distinct
    from django_onestep.submissions.submission_handle import Submission as Submission
    from django_onestep.submissions.submission_handle import SubmissionFailed as SubmissionFailed

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # runtime core (no Django)
    "OneStepApp": "django_onestep.core.runtime.app",
    "TaskContext": "django_onestep.core.runtime.context",
    "BatchContext": "django_onestep.core.runtime.batch_context",
    "BatchItem": "django_onestep.core.runtime.batch_context",
    "TaskHooks": "django_onestep.core.runtime.task",
    "Envelope": "django_onestep.core.envelope",
    "Source": "django_onestep.core.base",
    "Sink": "django_onestep.core.base",
    "Delivery": "django_onestep.core.base",
    "MemoryQueue": "django_onestep.core.runtime.memory",
    "IntervalSource": "django_onestep.core.schedules.interval",
    "CronSource": "django_onestep.core.schedules.cron",
    "WebhookSource": "django_onestep.core.http.webhook",
    "BearerAuth": "django_onestep.core.http.webhook",
    "HmacAuth": "django_onestep.core.http.webhook_hmac",
    "WebhookResponse": "django_onestep.core.http.webhook",
    "HttpSink": "django_onestep.core.http.http_sink",
    "HttpSinkStatusError": "django_onestep.core.http.http_sink",
    "RetryPolicy": "django_onestep.core.retry",
    "ByFailureKind": "django_onestep.core.retry",
    "NoRetry": "django_onestep.core.retry",
    "MaxAttempts": "django_onestep.core.retry",
    "ExponentialBackoff": "django_onestep.core.retry",
    "RetryAction": "django_onestep.core.retry",
    "RetryDecision": "django_onestep.core.retry",
    "FailureInfo": "django_onestep.core.retry",
    "FailureKind": "django_onestep.core.retry",
    "TaskEvent": "django_onestep.core.events",
    "TaskEventKind": "django_onestep.core.events",
    "StructuredEventLogger": "django_onestep.core.events",
    "InMemoryMetrics": "django_onestep.core.metrics",
    "StateStore": "django_onestep.core.state",
    "CursorStore": "django_onestep.core.state",
    "InMemoryStateStore": "django_onestep.core.state",
    "InMemoryCursorStore": "django_onestep.core.state",
    "ScopedState": "django_onestep.core.state",
    "ConnectorOperationError": "django_onestep.core.errors",
    "ConnectorOperation": "django_onestep.core.errors",
    "ConnectorErrorKind": "django_onestep.core.errors",
    "ConfigurationError": "django_onestep.core.errors",
    "MissingExtraError": "django_onestep.core.errors",
    "OneStepError": "django_onestep.core.errors",
    "PoisonMessageError": "django_onestep.core.errors",
    "load_yaml_app": "django_onestep.core.declarative.loader",
    "load_app_config": "django_onestep.core.declarative.loader",
    "ControlPlaneReporter": "django_onestep.core.declarative.reporter",
    "ControlPlaneReporterConfig": "django_onestep.core.declarative.reporter",
    # broker connectors (client libraries imported only when used)
    "RedisConnector": "django_onestep.connectors.redis.connector",
    "MySQLConnector": "django_onestep.connectors.mysql.connector",
    "RabbitMQConnector": "django_onestep.connectors.rabbitmq.connector",
    "SQSConnector": "django_onestep.connectors.sqs.connector",
    "StepFunctionsConnector": "django_onestep.connectors.stepfunctions.connector",
    # Django layer (imports Django when touched)
    "DatabaseQueue": "django_onestep.dbqueue.queue",
    "DatabaseStateStore": "django_onestep.orm.stores",
    "DatabaseCursorStore": "django_onestep.orm.stores",
    "app": "django_onestep.project.project_app",
    "JobHandle": "django_onestep.results.handle",
    "JobError": "django_onestep.results.handle",
    "JobFailed": "django_onestep.results.handle",
    "JobNotFound": "django_onestep.results.handle",
    "get_job": "django_onestep.results.handle",
    "submit": "django_onestep.submissions.producer",
    "asubmit": "django_onestep.submissions.producer",
    "Submission": "django_onestep.submissions.submission_handle",
    "SubmissionFailed": "django_onestep.submissions.submission_handle",
    "SubmissionSource": "django_onestep.submissions.source",
    "prefer_distinct": "django_onestep.submissions.strategies",
    "push": "django_onestep.pushes.outbox",
}

# ``from django_onestep import *`` (as onestep code may do) must work in a plain asyncio
# program, so it stops short of the Django layer, whose names need configured settings.
_DJANGO_MODULES = (
    "django_onestep.dbqueue.",
    "django_onestep.orm.stores",
    "django_onestep.project.project_app",
    "django_onestep.results.",
    "django_onestep.submissions.",
    "django_onestep.pushes.",
)
__all__ = sorted(name for name, module in _EXPORTS.items() if not module.startswith(_DJANGO_MODULES))


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'django_onestep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    if name != "app":  # the project app is resolved by its module on every access
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
