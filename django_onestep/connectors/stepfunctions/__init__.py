"""AWS Step Functions activities: ``StepFunctionsConnector(...).activity(arn, heartbeat_s=...)``.

boto3 loads only when an activity opens (``pip install 'django-onestep[stepfunctions]'``).
"""

from __future__ import annotations

from django_onestep.connectors.stepfunctions.activity import ActivitySource
from django_onestep.connectors.stepfunctions.connector import StepFunctionsConnector
from django_onestep.connectors.stepfunctions.delivery import ActivityDelivery

__all__ = ["ActivityDelivery", "ActivitySource", "StepFunctionsConnector"]
