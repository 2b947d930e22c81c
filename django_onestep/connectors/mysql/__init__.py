"""MySQL/MariaDB tables as sources: ``MySQLConnector(dsn).table_queue(...)``. mysqlclient loads on first use."""

from __future__ import annotations

from django_onestep.connectors.mysql.connector import MySQLConnector
from django_onestep.connectors.mysql.delivery import TableQueueDelivery
from django_onestep.connectors.mysql.queue import TableQueueSource

__all__ = ["MySQLConnector", "TableQueueDelivery", "TableQueueSource"]
