"""Worker log output: ``--log-format text|json`` and ``--log-level``."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonFormatter", "SkipSuccesses", "configure_worker_logging"]

# Attributes every LogRecord has; anything else on a record is an ``extra`` and goes in
# the JSON document (event_kind, task_name, failure_kind...).
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_LOGGERS = ("onestep", "django_onestep")
_handler: logging.Handler | None = None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=False)


class SkipSuccesses(logging.Filter):
    """Drops the per-task success lines (``ONESTEP["LOG_SUCCESSES"] = False``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "event_kind", None) != "succeeded"


def _settings_log_successes() -> bool | str:
    from django_onestep.conf import OneStepSettingsError, get_settings

    try:
        return get_settings().LOG_SUCCESSES
    except OneStepSettingsError:
        return "summary"  # the worker reports the broken setting and exits 2


def configure_worker_logging(log_format: str, level: str, *, log_successes: bool | str | None = None) -> None:
    """Send the runtime's and the worker's logs to stderr in the chosen format.

    Each retry logs one WARNING line on its task's logger (``onestep.<app>.<task>``)
    and each terminal failure one ERROR line. Successes (``log_successes``, default
    ``ONESTEP["LOG_SUCCESSES"]``) log one INFO line each (True), one INFO line per task
    every ten seconds with their count ("summary"), or nothing (False). The
    ``StructuredEventLogger`` lines (logger ``onestep.events``, if an app enables them)
    would repeat those, so below WARNING they show only at DEBUG.
    """
    global _handler
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"--log-level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {level!r}")
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    from django_onestep.core.runtime.outcome_log import OutcomeLog

    setting = _settings_log_successes() if log_successes is None else log_successes
    OutcomeLog.successes = "each" if setting is True else "summary" if setting == "summary" else "none"
    if setting is False:
        handler.addFilter(SkipSuccesses())
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _handler is not None:
            logger.removeHandler(_handler)
        logger.addHandler(handler)
        logger.setLevel(numeric)
        logger.propagate = False
    logging.getLogger("onestep.events").setLevel(
        numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING)
    )
    _handler = handler
