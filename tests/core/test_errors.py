"""One exception root: everything the package raises on purpose is a OneStepError."""

from __future__ import annotations

import importlib
import pkgutil

import django_onestep
from django_onestep.core import errors
from django_onestep.core.errors import ConfigurationError, OneStepError


def _package_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in django_onestep, after importing all its modules.

    Django makes ``DoesNotExist``/``MultipleObjectsReturned`` for each model (their
    ``__module__`` is ours, but Django raises them): they stay Django's.
    """
    from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist

    for module in pkgutil.walk_packages(django_onestep.__path__, "django_onestep."):
        importlib.import_module(module.name)
    found: dict[str, type[BaseException]] = {}
    pending: list[type[BaseException]] = [BaseException]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] != "django_onestep":
            continue
        if issubclass(cls, ObjectDoesNotExist | MultipleObjectsReturned) and cls.__qualname__.endswith(
            (".DoesNotExist", ".MultipleObjectsReturned")
        ):
            continue
        found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def test_every_exception_of_the_package_is_a_onestep_error() -> None:
    found = _package_exceptions()
    # the walk reaches every layer (it would pass vacuously if it found nothing)
    for name in (
        "django_onestep.conf.OneStepSettingsError",
        "django_onestep.worker.options.WorkerSetupError",
        "django_onestep.connectors.codec.UndecodableMessage",
        "django_onestep.connectors.rabbitmq.classify.RabbitMQError",
        "django_onestep.connectors.sqs.classify.SQSError",
        "django_onestep.core.http.http_sink.HttpSinkStatusError",
        "django_onestep.core.http.webhook_protocol.WebhookHTTPError",
        "django_onestep.core.errors.ConnectorOperationError",
    ):
        assert name in found
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, OneStepError))
    assert outside == []


def test_the_exception_tree_in_errors_names_every_class() -> None:
    tree = errors.__doc__ or ""
    missing = sorted(cls.__name__ for cls in _package_exceptions().values() if cls.__name__ not in tree)
    assert missing == []


def test_each_keeps_the_base_callers_already_catch() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from django_onestep.conf import OneStepSettingsError
    from django_onestep.connectors.codec import UndecodableMessage
    from django_onestep.core.http.http_sink import HttpSinkStatusError
    from django_onestep.worker.options import WorkerSetupError

    settings_error = OneStepSettingsError("LEASE_S", "must be > 0, got -1")
    assert isinstance(settings_error, ImproperlyConfigured)
    assert isinstance(settings_error, ConfigurationError)
    assert (settings_error.key, settings_error.name, settings_error.problem) == (
        "LEASE_S",
        'ONESTEP["LEASE_S"]',
        "must be > 0, got -1",
    )
    assert str(settings_error) == 'ONESTEP["LEASE_S"]: must be > 0, got -1'
    assert issubclass(HttpSinkStatusError, RuntimeError)
    assert issubclass(UndecodableMessage, ValueError)
    assert issubclass(WorkerSetupError, ConfigurationError)
    assert issubclass(errors.MissingExtraError, ImportError)
    assert issubclass(ConfigurationError, ValueError)
