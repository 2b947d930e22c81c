"""The URL patterns of the project app's webhooks (``django_onestep.urls`` serves them)."""

from __future__ import annotations

import re
from typing import Any

from django.urls import URLPattern, re_path

from django_onestep.webhooks.routes import routes_by_path, url_name, webhook_routes
from django_onestep.webhooks.view import WebhookView

__all__ = ["webhook_urlpatterns"]


def webhook_urlpatterns(app: Any = None) -> list[URLPattern]:
    """One pattern per path of ``app``'s webhook tasks (default: the project app)."""
    if app is None:
        from django_onestep.project.project_app import get_project_app

        app = get_project_app()
    patterns = []
    for path, routes in routes_by_path(webhook_routes(app)).items():
        regex = "^" + re.escape(path.lstrip("/")) + ("/?$" if path != "/" else "$")
        patterns.append(re_path(regex, WebhookView(path, routes), name=url_name(path)))
    return patterns
