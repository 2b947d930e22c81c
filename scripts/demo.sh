#!/usr/bin/env bash
# `make demo`: the example project on SQLite with the embedded defaults (no broker).
# Runs the worker in the background and the web server in the foreground; Ctrl-C stops
# both (the worker drains gracefully).
set -euo pipefail
cd "$(dirname "$0")/../example_project"
PY=../.venv/bin/python
HOST_PORT=${DEMO_ADDR:-127.0.0.1:8000}

$PY manage.py migrate --noinput
$PY manage.py demo_setup --addr "$HOST_PORT"
$PY manage.py onestep_worker &
worker=$!
stop_worker() {
    kill -TERM "$worker" 2>/dev/null || true
    wait "$worker" 2>/dev/null || true
}
trap stop_worker EXIT
trap 'exit 0' INT TERM
$PY manage.py runserver "$HOST_PORT"
