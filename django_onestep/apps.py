"""The Django app: ``INSTALLED_APPS += ["django_onestep"]``.

``ready()`` imports each installed app's task modules (``ONESTEP["TASK_MODULES"]``,
default ``["tasks"]``) so their ``@app.task`` decorators register on the project app,
and registers the system checks and the Django YAML resource types. It also wraps
Django's URL checks (``django_onestep.checks.urlconf_guard``) so that a tasks.py imported by a
view reports a bad task definition or setting as a check message, not a traceback. It
starts nothing: workers are started only by ``manage.py onestep_worker``.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from django.apps import AppConfig, apps


class OneStepConfig(AppConfig):
    name = "django_onestep"
    label = "django_onestep"
    verbose_name = "OneStep background work"
    default_auto_field = "django.db.models.BigAutoField"
    #: What autodiscovery looked for (``ONESTEP["TASK_MODULES"]``) and the modules it
    #: imported, for the worker to say where it looked when it finds no task.
    task_module_names: list[str] = []
    imported_task_modules: list[str] = []

    def ready(self) -> None:
        from django_onestep import checks, workflows
        from django_onestep.checks import urlconf_guard
        from django_onestep.conf import OneStepSettingsError, get_settings
        from django_onestep.outbox import enqueue_modes
        from django_onestep.project import mysql_alias, resource_types
        from django_onestep.webhooks import route_checks  # noqa: F401 - registers them

        checks.register_all()
        urlconf_guard.install()  # a bad tasks.py met by the URL checks: a check error, no traceback
        resource_types.register()  # database_queue, django_state_store... for YAML targets
        mysql_alias.register()  # MySQLConnector(using="alias") reads DATABASES through Django
        enqueue_modes.install()  # sync sends to broker queues: on commit or through the outbox
        workflows.install()  # chains and chords move on in the settle transaction of their steps
        try:
            conf = get_settings()
        except OneStepSettingsError:
            return  # reported by the django_onestep.E001 system check
        self.task_module_names = list(conf.TASK_MODULES)
        self.imported_task_modules = autodiscover_tasks(conf.TASK_MODULES)
        if conf.TASKS:
            load_settings_tasks(conf.CONNECTORS, conf.TASKS)
        if conf.PUSH_ENABLED:
            from django_onestep.project.project_app import get_project_app
            from django_onestep.pushes.push_task import install_push_task

            install_push_task(get_project_app())
        from django_onestep.live.job_events import live_enabled

        if live_enabled():
            from django_onestep.live.dashboard_feed import connect_dashboard_feed

            connect_dashboard_feed()


def load_settings_tasks(connectors: dict[str, object], tasks: list[object]) -> list[str]:
    """Add ``ONESTEP["TASKS"]`` to the project app; errors become system check E002."""
    from django_onestep.checks import SETTINGS_TASKS, record_discovery_error
    from django_onestep.project.project_app import get_project_app
    from django_onestep.project.settings_tasks import add_settings_tasks

    try:
        return add_settings_tasks(get_project_app(), dict(connectors), list(tasks))
    except (ValueError, ImportError) as exc:  # ConfigurationError, MissingExtraError
        record_discovery_error(SETTINGS_TASKS, exc)
        return []


def autodiscover_tasks(module_names: list[str]) -> list[str]:
    """Import ``<app>.<module>`` for every installed app that has one; return their names.

    An app without the module is skipped. A bad task definition (the runtime's
    ``ConfigurationError``: an unknown option, a duplicate task name, a non-positive
    concurrency) or an invalid setting read by the module (``OneStepSettingsError``) is
    kept for the ``django_onestep.E002`` system check: ``manage.py check``, ``runserver``,
    ``onestep_check`` and the worker report it in one line. Any other error propagates
    with its traceback (a broken tasks.py fails loudly), with a note naming the module.
    """
    from django_onestep.checks import record_discovery_error
    from django_onestep.conf import OneStepSettingsError
    from django_onestep.core.errors import ConfigurationError

    imported: list[str] = []
    for app_config in apps.get_app_configs():
        for module_name in module_names:
            dotted = f"{app_config.name}.{module_name}"
            try:
                if find_spec(dotted) is None:
                    continue
            except ModuleNotFoundError:
                continue
            try:
                import_module(dotted)
            except (ConfigurationError, OneStepSettingsError) as exc:
                record_discovery_error(dotted, exc)
                continue
            except Exception as exc:
                # the traceback points into the module; the note says why it was imported
                exc.add_note(
                    f"django_onestep was importing {dotted} (a tasks module: "
                    f'ONESTEP["TASK_MODULES"] = {module_names!r} in each installed app)'
                )
                raise
            imported.append(dotted)
    return imported
