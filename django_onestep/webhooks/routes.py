"""Which task answers which URL: the project app's ``WebhookSource`` tasks as routes.

A source's ``path`` is relative to where ``django_onestep.urls`` is included:
``WebhookSource(path="/hooks/github")`` under ``path("onestep/", include(...))``
answers at ``/onestep/hooks/github``. Each task reads its own inbox, a database queue
named ``webhook:<task name>``, so two tasks sharing a path (with other methods) never
read each other's requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django_onestep.core.http.webhook import WebhookSource

__all__ = [
    "WebhookRoute",
    "find_clashes",
    "full_url",
    "inbox_name",
    "routes_by_path",
    "url_name",
    "webhook_routes",
]

URL_NAMESPACE = "django_onestep"


def inbox_name(task_name: str) -> str:
    """The database queue holding the accepted requests of task ``task_name``."""
    return f"webhook:{task_name}"


@dataclass(frozen=True)
class WebhookRoute:
    task: str
    source: WebhookSource

    @property
    def inbox(self) -> str:
        return inbox_name(self.task)


def webhook_routes(app: Any) -> list[WebhookRoute]:
    """The app's tasks whose source is a ``WebhookSource``, in registration order."""
    return [
        WebhookRoute(spec.name, spec.source) for spec in app.tasks if isinstance(spec.source, WebhookSource)
    ]


def routes_by_path(routes: Iterable[WebhookRoute]) -> dict[str, list[WebhookRoute]]:
    grouped: dict[str, list[WebhookRoute]] = {}
    for route in routes:
        grouped.setdefault(route.source.path, []).append(route)
    return grouped


def find_clashes(routes: Iterable[WebhookRoute]) -> list[tuple[str, str, str, str]]:
    """``(method, path, first task, other task)`` for each path+method claimed twice."""
    owners: dict[tuple[str, str], str] = {}
    clashes = []
    for route in routes:
        for method in route.source.methods:
            key = (method, route.source.path)
            if key in owners and owners[key] != route.task:
                clashes.append((method, route.source.path, owners[key], route.task))
            owners.setdefault(key, route.task)
    return clashes


def url_name(path: str) -> str:
    """The URL pattern name of ``path``: ``reverse("django_onestep:webhook/hooks/github")``."""
    return f"webhook{path}"


def full_url(path: str) -> str | None:
    """Where the project's URLconf serves ``path`` (None: ``django_onestep.urls`` not included)."""
    from django.core.exceptions import ImproperlyConfigured
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(f"{URL_NAMESPACE}:{url_name(path)}")
    except (NoReverseMatch, ImportError, ImproperlyConfigured):
        return None
