"""``ONESTEP["CONTROL_PLANE"]``: the project app reports to a control plane.

``True`` reads everything from the ``ONESTEP_CONTROL_PLANE_*`` environment variables (as
onestep's ``ControlPlaneReporterConfig.from_env``); a dict gives options (``base_url``,
``token``, ``environment``, ``heartbeat_interval_s``...) that override them. The
reporter runs only where the app is served (``onestep_worker``): its hooks are startup
and shutdown hooks, so web processes never report.
"""

from __future__ import annotations

from typing import Any

__all__ = ["attach_control_plane"]


def attach_control_plane(app: Any, options: Any) -> Any:
    """Attach a ``ControlPlaneReporter`` built from the setting; None when it is off."""
    from django_onestep.conf import OneStepSettingsError
    from django_onestep.core.declarative.reporter import ControlPlaneReporter, ControlPlaneReporterConfig

    if options is None or options is False:
        return None
    overrides = {} if options is True else dict(options)
    try:
        config = ControlPlaneReporterConfig.from_env(app_name=app.name, **overrides)
    except (TypeError, ValueError) as exc:  # ConfigurationError is a ValueError
        problem = str(exc).replace("__init__() ", "")
        raise OneStepSettingsError("CONTROL_PLANE", problem) from None
    return ControlPlaneReporter(config).attach(app)
