"""Amazon SQS: ``SQSConnector(...).queue(url, ...)``. boto3 loads only when a queue opens."""

from __future__ import annotations

from django_onestep.connectors.sqs.connector import SQSConnector, SQSDelivery, SQSQueue

__all__ = ["SQSConnector", "SQSDelivery", "SQSQueue"]
