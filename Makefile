# The two commands a new user runs: `make demo` and `make test`. Everything else serves them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SERVERS ?= redis mariadb postgres rabbitmq moto
# Debian packages the real servers come from (services.md); installed only when missing.
SERVER_PACKAGES := redis-server mariadb-server default-libmysqlclient-dev pkg-config rabbitmq-server postgresql
# The browser tests (tests/browser) drive Debian's headless Chromium: never a browser download.
BROWSER_PACKAGES := chromium chromium-driver

.PHONY: demo test install system-deps services stop-services lint check-django test-core test-sqlite test-mariadb test-postgres bench docs clean

$(VENV)/.installed: pyproject.toml
	@command -v mysql_config >/dev/null || $(MAKE) --no-print-directory system-deps
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[all,dev,bench]'
	touch $@

install: $(VENV)/.installed

system-deps:
	@missing=""; for p in $(SERVER_PACKAGES) $(BROWSER_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

## demo: run the example project (SQLite, no external service): worker + web server
demo: install
	bash scripts/demo.sh

## test: install, start the real servers, lint, Django checks, every test tier on SQLite, MariaDB and PostgreSQL
test: install system-deps
	$(PY) -m tests.servers stop >/dev/null 2>&1 || true
	@set -e; trap '$(PY) -m tests.servers stop' EXIT; \
	$(PY) -m tests.servers start $(SERVERS); \
	source .services/env; \
	$(MAKE) --no-print-directory lint check-django; \
	$(MAKE) --no-print-directory test-sqlite; \
	$(MAKE) --no-print-directory test-mariadb; \
	$(MAKE) --no-print-directory test-postgres

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir site

check-django: install
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run

# Every tier on SQLite (core, Django, integration servers, acceptance).
test-sqlite: install
	$(PY) -m pytest tests

# The database-backed tiers again on MariaDB (needs ONESTEP_TEST_MYSQL_URL).
test-mariadb: install
	@test -n "$$ONESTEP_TEST_MYSQL_URL" || { echo "ONESTEP_TEST_MYSQL_URL unset: run via make test or make services"; exit 1; }
	DATABASE_URL=$$ONESTEP_TEST_MYSQL_URL $(PY) -m pytest -m "not sqlite_only" tests/django tests/acceptance

# The database-backed tiers again on PostgreSQL (needs ONESTEP_TEST_PG_URL).
test-postgres: install
	@test -n "$$ONESTEP_TEST_PG_URL" || { echo "ONESTEP_TEST_PG_URL unset: run via make test or make services"; exit 1; }
	DATABASE_URL=$$ONESTEP_TEST_PG_URL $(PY) -m pytest -m "not sqlite_only" tests/django tests/acceptance

## services: start the real servers for local test runs; `source .services/env` afterwards
services: install system-deps
	$(PY) -m tests.servers start $(SERVERS)

stop-services:
	$(PY) -m tests.servers stop

bench: install
	$(PY) benchmarks/memory_queue.py

docs: install
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) .services .testdb*.sqlite3* site build *.egg-info
