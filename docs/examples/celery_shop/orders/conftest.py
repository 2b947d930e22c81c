import pytest
from shop_project.celery import app


@pytest.fixture
def celery_eager():
    """Run .delay() at once, in the test, and raise the task's exception."""
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    app.conf.update(task_always_eager=False, task_eager_propagates=False)


@pytest.fixture(scope="session")
def celery_config():
    # a real worker thread for tests that read results (celery.contrib.pytest)
    return {"broker_url": "memory://", "result_backend": "cache+memory://"}


@pytest.fixture(autouse=True)
def outbox_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
