"""Webhook tasks served through ``django_onestep.urls``; each run is a ``Run`` row."""

from __future__ import annotations

from django_onestep import BearerAuth, HmacAuth, WebhookSource, app
from testproject.testapp.models import Run

from .settings_values import GITHUB_SECRET, LIMIT, STRIPE_SECRET, TOKEN


@app.task(
    source=WebhookSource(
        path="/hooks/github",
        auth=HmacAuth.github(GITHUB_SECRET),
        delivery_id="X-GitHub-Delivery",
        max_body_bytes=LIMIT,
    )
)
def github(ctx, event):
    Run.objects.create(label=event["headers"].get("x-github-delivery", ""), task="github")


@app.task(source=WebhookSource(path="/hooks/stripe", auth=HmacAuth.stripe(STRIPE_SECRET)))
def stripe(ctx, event):
    Run.objects.create(label=event["body"]["id"], task="stripe")


@app.task(source=WebhookSource(path="/hooks/token", auth=BearerAuth(TOKEN), max_body_bytes=LIMIT))
def token(ctx, event):
    Run.objects.create(label=str(event["body"]), task="token")
