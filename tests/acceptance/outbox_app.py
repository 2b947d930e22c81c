"""The broker queues of the outbox crash test, declared from the environment.

OUTBOX_QUEUES  JSON {"redis": name, "rabbitmq": name, "sqs": url}

Imported by the web process (which enqueues) and by ``manage.py onestep_relay
tests.acceptance.outbox_app:app`` (which must know the queues to publish to them).
"""

from __future__ import annotations

import json
import os

from django_onestep.core.runtime.app import OneStepApp
from tests.broker_queues import broker_queue

queues = {kind: broker_queue(kind, name) for kind, name in json.loads(os.environ["OUTBOX_QUEUES"]).items()}
app = OneStepApp("outbox-crash")
