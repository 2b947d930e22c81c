"""One claimed row of a MySQL table queue (the shared ``RowDelivery``, under onestep's name)."""

from __future__ import annotations

from django_onestep.connectors.row_delivery import RowDelivery

__all__ = ["TableQueueDelivery"]


class TableQueueDelivery(RowDelivery):
    """``payload`` is the row as a dict; ``attempts`` counts its earlier claims."""
