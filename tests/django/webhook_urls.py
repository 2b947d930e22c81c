"""A URLconf serving an app of webhook tasks the way ``django_onestep.urls`` serves the
project app's (tests point ``ROOT_URLCONF`` here)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from django_onestep import BearerAuth, HmacAuth, NoRetry, OneStepApp, WebhookResponse, WebhookSource
from django_onestep.webhooks.urlpatterns import webhook_urlpatterns

GITHUB_SECRETS = ["new-secret", "old-secret"]
STRIPE_SECRET = "whsec_test"
TOKEN = "t0ken"
LIMIT = 1000

app = OneStepApp("hooks")
handled: list[dict] = []


@app.task(
    source=WebhookSource(
        path="/hooks/github",
        auth=HmacAuth.github(GITHUB_SECRETS),
        delivery_id="x-github-delivery",
        max_body_bytes=LIMIT,
    )
)
def github(ctx, event):
    handled.append(event)


@app.task(
    source=WebhookSource(
        path="/hooks/stripe",
        auth=HmacAuth.stripe(STRIPE_SECRET),
        delivery_id=lambda event: event["body"]["id"],
    )
)
def stripe(ctx, event):
    handled.append(event)


@app.task(
    source=WebhookSource(
        path="/hooks/bearer",
        methods=("POST", "PUT"),
        auth=BearerAuth(TOKEN),
        response=WebhookResponse(200, {"ok": 1}, {"X-Hook": "yes"}),
        max_body_bytes=LIMIT,
    )
)
def bearer(ctx, event):
    handled.append(event)


@app.task(source=WebhookSource(path="/hooks/open", parser="json"))
def open_hook(ctx, event):
    handled.append(event)


@app.task(source=WebhookSource(path="/hooks/failing", auth=BearerAuth(TOKEN)), retry=NoRetry())
def failing(ctx, event):
    raise RuntimeError("the handler failed")


urlpatterns = [
    path("onestep/", include((webhook_urlpatterns(app), "django_onestep"))),
    path("admin/", admin.site.urls),
]
