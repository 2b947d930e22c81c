"""``path("onestep/", include("django_onestep.urls"))``: the project's webhooks.

One URL per ``WebhookSource`` path of the project app's tasks (``tasks.py`` modules are
imported by the app's ``ready()``, before any URLconf), relative to where this module
is included; a trailing slash is optional. Names: ``django_onestep:webhook<path>``.
"""

from __future__ import annotations

from django_onestep.webhooks.urlpatterns import webhook_urlpatterns

app_name = "django_onestep"

urlpatterns = webhook_urlpatterns()
