"""The test settings plus a task declared in ONESTEP (DJANGO_SETTINGS_MODULE for a subprocess)."""

from testproject.settings import *  # noqa: F403

ONESTEP = {
    "APP_NAME": "testproject",
    "CONNECTORS": {"inbox": {"type": "database_queue", "queue": "declared.inbox"}},
    "TASKS": [
        {
            "name": "declared_echo",
            "source": "inbox",
            "handler": {"ref": "tests.acceptance.yaml_handlers:echo"},
        }
    ],
}
