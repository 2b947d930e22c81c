"""System checks of the Django-served webhooks (ids listed in docs/django.md).

- ``django_onestep.E009`` two webhook tasks answer the same path and method
- ``django_onestep.E010`` a webhook task the Django view cannot serve (a ``raw`` parser:
  the inbox stores JSON; a task name too long for its inbox queue name)
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from django_onestep.webhooks.routes import find_clashes, webhook_routes

__all__ = ["check_webhook_routes", "webhook_route_errors"]

_MAX_QUEUE_NAME = 100


@register("django_onestep")
def check_webhook_routes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from django_onestep.project.project_app import created_project_app

    app = created_project_app()
    return [] if app is None else webhook_route_errors(app)


def webhook_route_errors(app: Any) -> list[CheckMessage]:
    routes = webhook_routes(app)
    errors: list[CheckMessage] = [
        Error(
            f"webhook {method} {path} is served by task {first!r} and task {other!r}",
            hint="Give one of the WebhookSources another path or other methods.",
            id="django_onestep.E009",
        )
        for method, path, first, other in find_clashes(routes)
    ]
    for route in routes:
        if route.source.parser == "raw":
            errors.append(
                Error(
                    f"task {route.task!r}: WebhookSource(parser='raw') cannot be served by Django "
                    "(the inbox stores JSON)",
                    hint="Use parser='text' or 'auto' (a body that is not UTF-8 then gets 400).",
                    id="django_onestep.E010",
                )
            )
        if len(route.inbox) > _MAX_QUEUE_NAME:
            errors.append(
                Error(
                    f"task {route.task!r}: its inbox queue name {route.inbox[:40]!r}... is longer than "
                    f"{_MAX_QUEUE_NAME} characters",
                    hint="Give the task a shorter name=...",
                    id="django_onestep.E010",
                )
            )
    return errors
