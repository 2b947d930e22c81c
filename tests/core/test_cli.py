"""`python -m django_onestep run|check` in real subprocesses: output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

APP_MODULE = """
from django_onestep import IntervalSource, MemoryQueue, MaxAttempts, OneStepApp

app = OneStepApp("billing-sync")
failed = MemoryQueue("failed")


@app.task(source=IntervalSource.every(hours=1, immediate=True, overlap="skip", timezone="UTC"),
          dead_letter=failed, retry=MaxAttempts(2), timeout_s=5)
async def sync_billing(ctx, _):
    print("syncing billing data", flush=True)
    ctx.app.request_shutdown()


def build_app():
    return app


not_an_app = 42
empty = OneStepApp("empty")
"""


def run_cli(tmp_path: Path, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    return subprocess.run(
        [sys.executable, "-m", "django_onestep", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "h2_cli_app.py").write_text(APP_MODULE)
    (tmp_path / "h2_broken.py").write_text("raise RuntimeError('import-time bug')\n")
    (tmp_path / "h2_failing.py").write_text(
        textwrap.dedent(
            """
            from django_onestep import OneStepApp, Source

            class Exploding(Source):
                async def open(self):
                    raise RuntimeError("cannot reach the broker")

                async def fetch(self, limit):
                    return []

            app = OneStepApp("failing")

            @app.task(source=Exploding("boom"))
            async def never(ctx, payload):
                return None
            """
        )
    )
    return tmp_path


def test_check_text_summary(project: Path) -> None:
    result = run_cli(project, "check", "h2_cli_app:app")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "App: billing-sync",
        "Shutdown timeout: 30.00s",
        "Tasks: 1",
        "- sync_billing source=interval:3600s<IntervalSource> emit=- dead_letter=failed<MemoryQueue> "
        "concurrency=1 timeout=5.00s retry=MaxAttempts(max_attempts=2, delay_s=None)",
    ]
    assert lines[4].startswith(
        "  handler=h2_cli_app.sync_billing schedule='every 3600.0s' tz=UTC overlap=skip misfire=run_once next="
    )
    assert lines[4].count("+00:00") == 3  # the next three fire times
    assert lines[5:] == ["Problems: none", "OK"]


def test_check_json_and_factory_target(project: Path) -> None:
    result = run_cli(project, "check", "--json", "h2_cli_app:build_app")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["app"] == "billing-sync"
    assert report["ok"] is True
    assert report["tasks"][0]["schedule"]["interval_s"] == 3600.0


def test_check_with_errors_exits_2(project: Path) -> None:
    result = run_cli(project, "check", "h2_cli_app:empty")
    assert result.returncode == 2
    assert result.stdout.splitlines()[-3:] == ["Problems: 1", "- error: the app has no tasks", "FAILED"]


def test_short_form_runs_the_app(project: Path) -> None:
    result = run_cli(project, "h2_cli_app:app")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "syncing billing data\n"


def test_yaml_target(project: Path) -> None:
    result = run_cli(project, "check", str(REPO / "tests/core/fixtures/billing.yaml"))
    assert result.returncode == 0, result.stderr
    assert "App: billing-sync" in result.stdout


def test_runtime_failure_exits_1_with_one_line(project: Path) -> None:
    result = run_cli(project, "run", "h2_failing:app")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "django-onestep: h2_failing:app failed while running: RuntimeError: cannot reach the broker"
    )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nope_module:app", "django-onestep: cannot load nope_module:app: cannot import 'nope_module'"),
        (
            "h2_cli_app:missing",
            "django-onestep: cannot load h2_cli_app:missing: ref 'h2_cli_app:missing': 'missing' not found",
        ),
        ("h2_cli_app:not_an_app", "'h2_cli_app:not_an_app' is a int, not a OneStepApp or a factory of one"),
        ("h2_broken:app", "django-onestep: cannot load h2_broken:app: RuntimeError: import-time bug"),
        ("missing.yaml", "django-onestep: cannot load missing.yaml: YAML file 'missing.yaml' does not exist"),
        ("h2_cli_app:", "must look like 'package.module:app' or 'file.yaml'"),
    ],
)
@pytest.mark.parametrize("command", ["check", "run"])
def test_bad_targets_exit_2_with_one_line(project: Path, command: str, target: str, message: str) -> None:
    result = run_cli(project, command, target)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_usage_errors_exit_2(project: Path) -> None:
    result = run_cli(project)
    assert result.returncode == 2
    assert "the following arguments are required: command" in result.stderr


def test_standalone_commands_never_import_django(project: Path) -> None:
    blocker = project / "blocked"
    (blocker / "django").mkdir(parents=True)
    (blocker / "django" / "__init__.py").write_text("raise ImportError('django is blocked in this test')\n")
    (project / "h2_everything.py").write_text(
        textwrap.dedent(
            """
            from django_onestep import (
                BearerAuth, ControlPlaneReporter, ControlPlaneReporterConfig, CronSource, HttpSink,
                IntervalSource, OneStepApp, WebhookSource, load_yaml_app,
            )

            app = OneStepApp("everything")
            app.task(name="a", source=CronSource("@daily", timezone="UTC"),
                     emit=HttpSink("out", url="http://127.0.0.1:9/x"))(lambda ctx, p: p)
            app.task(name="b", source=WebhookSource(path="/h", port=0, auth=BearerAuth("t")))(lambda ctx, p: p)
            app.task(name="c", source=IntervalSource.every(seconds=5))(lambda ctx, p: p)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(project), str(REPO)])}
    for args in (["check", "h2_everything:app"], ["check", str(REPO / "tests/core/fixtures/billing.yaml")]):
        result = subprocess.run(
            [sys.executable, "-m", "django_onestep", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.endswith("OK\n")


def test_webhook_port_in_use_exits_1(project: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        (project / "h2_hook.py").write_text(
            "from django_onestep import OneStepApp, WebhookSource\n"
            "app = OneStepApp('hook')\n"
            f"app.task(name='h', source=WebhookSource(path='/h', port={port}))(lambda ctx, p: p)\n"
        )
        result = run_cli(project, "run", "h2_hook:app")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django-onestep: h2_hook:app failed while running: OSError: ")
    assert "address already in use" in last


def test_log_level_applies_to_our_loggers_not_to_other_libraries(tmp_path: Path) -> None:
    (tmp_path / "h2_chatty.py").write_text(
        textwrap.dedent(
            """
            import logging
            from django_onestep import IntervalSource, OneStepApp

            app = OneStepApp("chatty")

            @app.task(source=IntervalSource.every(hours=1, immediate=True))
            async def tick(ctx, _):
                ctx.logger.info("our info line")
                logging.getLogger("somelib").info("library info line")
                logging.getLogger("somelib").warning("library warning line")
                ctx.app.request_shutdown()
            """
        )
    )
    result = run_cli(tmp_path, "run", "--log-level", "INFO", "h2_chatty:app")
    assert result.returncode == 0, result.stderr
    assert "INFO onestep.chatty.tick: our info line" in result.stderr
    assert "WARNING somelib: library warning line" in result.stderr
    assert "library info line" not in result.stderr
