"""The operations console: the admin pages of the ``django_onestep`` tables and what they do.

``django_onestep/admin.py`` imports the modules here so Django's autodiscovery registers
them; the actions' logic (replay, discard) lives beside the pages in plain functions.
"""
