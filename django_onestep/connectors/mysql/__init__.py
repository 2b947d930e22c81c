"""MySQL/MariaDB tables as sources: ``MySQLConnector(dsn).table_queue(...)``, ``.incremental(...)``.

mysqlclient loads on first use.
"""

from __future__ import annotations

from django_onestep.connectors.mysql.connector import MySQLConnector
from django_onestep.connectors.mysql.delivery import TableQueueDelivery
from django_onestep.connectors.mysql.incremental import IncrementalDelivery, IncrementalSource
from django_onestep.connectors.mysql.queue import TableQueueSource
from django_onestep.connectors.mysql.state_tables import MySQLCursorStore, MySQLStateStore
from django_onestep.connectors.mysql.table_sink import TableSink

__all__ = [
    "IncrementalDelivery",
    "IncrementalSource",
    "MySQLConnector",
    "MySQLCursorStore",
    "MySQLStateStore",
    "TableQueueDelivery",
    "TableQueueSource",
    "TableSink",
]
