#!/bin/sh
# Preflight before a worker starts (systemd ExecStartPre, a Kubernetes init container,
# a deploy step): exit non-zero, with one line saying why, when the worker could not run.
set -eu
cd "${APP_DIR:-/srv/app}"
PYTHON="${PYTHON:-.venv/bin/python}"
# Migrations applied: the queue's tables exist and match this release.
"$PYTHON" manage.py migrate --check --no-input
# Settings, tasks, sources, sinks, schedules, tables, and each source's own preflight.
"$PYTHON" manage.py onestep_check
