"""The test settings with SQLite's OPTIONS as a new Django project has them: none.

That is DEFERRED transactions and Django's 5 s busy timeout (the test database file
stays in WAL mode: the test process has it open). DJANGO_SETTINGS_MODULE for a worker
subprocess.
"""

from testproject.settings import *  # noqa: F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["OPTIONS"] = {}  # noqa: F405
