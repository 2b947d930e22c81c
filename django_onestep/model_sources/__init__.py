"""Tables Django already knows, as sources and sinks: ``ModelQueue``, ``ModelIncremental``, ``ModelSink``.

They run on every database Django supports (SQLite, MariaDB/MySQL, PostgreSQL), through
the ORM, on the shared database threads of the worker.
"""

from __future__ import annotations

from django_onestep.model_sources.model_incremental import ModelIncremental
from django_onestep.model_sources.model_queue import ModelQueue
from django_onestep.model_sources.model_sink import ModelSink

__all__ = ["ModelIncremental", "ModelQueue", "ModelSink"]
