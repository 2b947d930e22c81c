"""The Django worker behind ``manage.py onestep_worker`` (the command is a thin shell).

``Worker(options).run()`` loads the target app, applies the Django defaults, filters
tasks, installs signal handlers and serves until stopped; it returns the exit code
(0 ok, 1 runtime failure, 2 bad target/config).
"""

from __future__ import annotations

from django_onestep.worker.options import WorkerOptions, WorkerSetupError
from django_onestep.worker.process import EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME, Worker

__all__ = ["EXIT_CONFIG", "EXIT_OK", "EXIT_RUNTIME", "Worker", "WorkerOptions", "WorkerSetupError"]
