import pytest

from django_onestep.testing import eager


@pytest.fixture
def celery_eager():
    """Run .delay() at once, in the test, and raise the task's exception."""
    with eager():
        yield


@pytest.fixture(autouse=True)
def outbox_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
