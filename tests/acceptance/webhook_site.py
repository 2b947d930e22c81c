"""WSGI and ASGI entry points of the webhook test site (gunicorn ``webhook_site:wsgi``,
uvicorn ``webhook_site:asgi``)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.acceptance.webhook_settings")

from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

wsgi = get_wsgi_application()
asgi = get_asgi_application()
