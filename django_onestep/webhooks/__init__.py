"""Webhooks served by Django: routes under ``include("django_onestep.urls")``, a view that
writes each accepted request to a database-queue inbox before answering, and the
worker side that reads the inbox."""
