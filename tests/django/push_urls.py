"""A site that serves the push API and a webhook verifying django-onestep's push signature."""

from __future__ import annotations

from django.urls import include, path

from django_onestep import HmacAuth, OneStepApp, WebhookSource
from django_onestep.pushes.api import push_urlpatterns
from django_onestep.webhooks.urlpatterns import webhook_urlpatterns

PARTNER_SECRET = "partner-secret-for-tests"

app = OneStepApp("partner-site")


@app.task(source=WebhookSource(path="/hooks/from-partner", auth=HmacAuth.onestep(PARTNER_SECRET)))
def from_partner(ctx, event):
    return event


urlpatterns = [
    path("onestep/", include(([*push_urlpatterns(), *webhook_urlpatterns(app)], "django_onestep"))),
]
