"""RabbitMQ: ``RabbitMQConnector(url).queue(name, ...)``. pika loads only when a queue opens."""

from __future__ import annotations

from django_onestep.connectors.rabbitmq.connector import RabbitMQConnector, RabbitMQDelivery, RabbitMQQueue

__all__ = ["RabbitMQConnector", "RabbitMQDelivery", "RabbitMQQueue"]
