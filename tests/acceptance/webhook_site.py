"""WSGI and ASGI entry points of the webhook test site (gunicorn ``webhook_site:wsgi``,
uvicorn ``webhook_site:asgi``, wrapped as docs/webhooks.md recommends for ASGI)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.acceptance.webhook_settings")

from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

from django_onestep.webhooks.asgi import limit_webhook_bodies

wsgi = get_wsgi_application()
asgi = limit_webhook_bodies(get_asgi_application())
