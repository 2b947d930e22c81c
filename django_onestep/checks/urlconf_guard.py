"""Report django-onestep configuration errors raised while Django imports the URLconf.

Django's URL checks (``manage.py check``, and every command that runs the checks:
``runserver``, ``migrate``...) import ``ROOT_URLCONF``; its views import the apps'
``tasks.py``. When a ``tasks.py`` defines a bad task, or the ``ONESTEP`` settings are
invalid (the project app cannot be built), that import raises, and Django would print a
traceback from inside its URL checks instead of the check messages.

``install()`` (called from ``OneStepConfig.ready``) wraps the URL checks so that
``ConfigurationError`` and ``OneStepSettingsError`` become system check messages:

- an invalid setting is already ``django_onestep.E001`` (from the settings check): the
  URL check adds nothing;
- an error from a tasks module that autodiscovery already reported as
  ``django_onestep.E002`` adds nothing either (importing it again fails again, often
  with a misleading duplicate name for the tasks it registered the first time);
- any other one becomes ``django_onestep.E002`` naming the module and line that raised.

Every other exception (an ``ImportError`` in a view...) propagates unchanged, with its
traceback. The wrapping replaces the URL checks in Django's check registry; a Django
without that registry (``registry.registered_checks``) keeps its own behaviour.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.checks import CheckMessage, Error, Tags

__all__ = ["install", "urlconf_error_messages"]

# Among the URL checks, the one that reports the error; the others (e.g. the namespace
# check) import the same URLconf and would only repeat it.
_REPORTING_CHECK = "check_url_config"

# ROOT_URLCONF -> the first error importing it raised. Only the first tells the truth: a
# tasks module that failed half-way registered the tasks above the bad line, so the next
# import of it fails earlier, on a "duplicate" name.
_first_errors: dict[str, BaseException] = {}


def install() -> None:
    """Wrap every check tagged ``urls`` (idempotent)."""
    from django.core.checks.registry import registry

    registered = getattr(registry, "registered_checks", None)
    if not isinstance(registered, set):
        return
    for check in list(registered):
        tags = tuple(getattr(check, "tags", ()))
        if Tags.urls in tags and not getattr(check, "onestep_guarded", False):
            registered.discard(check)
            registry.register(_guarded(check), *tags)


def _guarded(check: Any) -> Any:
    from django_onestep.conf import OneStepSettingsError
    from django_onestep.core.errors import ConfigurationError

    reports = getattr(check, "__name__", "") == _REPORTING_CHECK

    @functools.wraps(check)
    def guarded(app_configs: Any = None, **kwargs: Any) -> Any:
        try:
            return check(app_configs=app_configs, **kwargs)
        except (ConfigurationError, OneStepSettingsError) as exc:
            from django.conf import settings

            first = _first_errors.setdefault(str(getattr(settings, "ROOT_URLCONF", "")), exc)
            return urlconf_error_messages(first) if reports else []

    guarded.onestep_guarded = True  # type: ignore[attr-defined]
    return guarded


def urlconf_error_messages(error: BaseException) -> list[CheckMessage]:
    """The check messages for ``error`` raised while importing the URLconf (maybe none)."""
    from django.conf import settings

    from django_onestep.checks import discovery_error_modules
    from django_onestep.conf import OneStepSettingsError, get_settings

    if isinstance(error, OneStepSettingsError):
        try:
            get_settings()
        except OneStepSettingsError as current:
            if str(current) == str(error):
                return []  # the settings check reports it as E001
        return [
            Error(
                f"{error} (raised{_at(error)} while importing the URLconf)",
                hint="Fix this key in the ONESTEP dict of your settings.",
                id="django_onestep.E001",
            )
        ]
    reported = discovery_error_modules()
    if _frame_modules(error) & reported:
        return []  # autodiscovery reported this tasks module as E002
    urlconf = getattr(settings, "ROOT_URLCONF", None)
    return [
        Error(
            f"importing the URLconf {urlconf!r} failed{_at(error)}: {type(error).__name__}: {error}",
            hint="Fix the task definition on that line (@app.task options, a unique name=...).",
            id="django_onestep.E002",
        )
    ]


def _at(error: BaseException) -> str:
    from django_onestep.checks import code_location

    where = code_location(error)
    return f" at {where}" if where else ""


def _frame_modules(error: BaseException) -> set[str]:
    names = set()
    tb = error.__traceback__
    while tb is not None:
        names.add(tb.tb_frame.f_globals.get("__name__", ""))
        tb = tb.tb_next
    return names
