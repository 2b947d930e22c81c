"""A small project as a new user builds it: urls.py imports views, views import tasks.py.

Every settings module here is a ``DJANGO_SETTINGS_MODULE`` for ``manage.py`` run in a
subprocess (see ``tests/acceptance/test_first_hour.py``); each breaks one thing.
"""
