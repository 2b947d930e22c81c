"""The templates under deploy/ match the real commands: every ``onestep_worker`` option
they use exists and parses, the stop timeouts leave room for the graceful drain, the
preflight passes on a sound project, and the probe paths answer.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.acceptance.conftest import ROOT
from tests.waiting import wait_until

pytestmark = pytest.mark.sqlite_only  # nothing here depends on the database

DEPLOY = ROOT / "deploy"


def _systemd_directives() -> dict[str, str]:
    lines = (DEPLOY / "systemd" / "onestep-worker.service").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def _worker_args_systemd() -> list[str]:
    argv = shlex.split(_systemd_directives()["ExecStart"])
    return argv[argv.index("onestep_worker") + 1 :]


def _worker_args_containerfile() -> list[str]:
    [cmd] = [line for line in (DEPLOY / "Containerfile").read_text().splitlines() if line.startswith("CMD ")]
    argv = json.loads(cmd[len("CMD ") :])
    return argv[argv.index("onestep_worker") + 1 :]


def _kubernetes() -> str:
    return (DEPLOY / "kubernetes" / "worker.yaml").read_text()


def _worker_args_kubernetes() -> list[str]:
    # the worker container's command is a YAML list of "- item" lines after "onestep_worker"
    text = _kubernetes()
    block = text[text.index("- onestep_worker") :].split("envFrom")[0]
    return [json.loads(item) if item.startswith('"') else item for item in re.findall(r"- (\S+)", block)[1:]]


TEMPLATES = {
    "systemd": _worker_args_systemd,
    "Containerfile": _worker_args_containerfile,
    "kubernetes": _worker_args_kubernetes,
}


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_every_worker_option_the_templates_use_exists_and_parses() -> None:
    from django_onestep.management.commands.onestep_worker import Command

    help_text = subprocess.run(
        [sys.executable, "manage.py", "onestep_worker", "--help"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    parser = Command().create_parser("manage.py", "onestep_worker")
    for template, args_of in TEMPLATES.items():
        args = args_of()
        assert "--healthcheck-port" in args, template
        for flag in (arg for arg in args if arg.startswith("--")):
            assert f"{flag} " in help_text or f"{flag}\n" in help_text, f"{template}: {flag} is not an option"
        parsed = parser.parse_args(args)  # exits (SystemExit) on a bad value
        assert parsed.healthcheck_port, template


def test_stop_timeouts_leave_room_for_the_graceful_drain() -> None:
    unit = _systemd_directives()
    assert (unit["KillSignal"], unit["KillMode"]) == ("SIGTERM", "mixed")
    assert "2" in unit["RestartPreventExitStatus"].split()  # bad configuration: no restart loop
    assert float(unit["TimeoutStopSec"]) > float(_option(_worker_args_systemd(), "--shutdown-timeout"))
    grace = float(re.search(r"terminationGracePeriodSeconds: (\d+)", _kubernetes()).group(1))  # type: ignore[union-attr]
    assert grace > float(_option(_worker_args_kubernetes(), "--shutdown-timeout"))
    assert "STOPSIGNAL SIGTERM" in (DEPLOY / "Containerfile").read_text()
    # probes from outside a container need a non-loopback bind
    assert _option(_worker_args_containerfile(), "--healthcheck-host") == "0.0.0.0"
    assert _option(_worker_args_kubernetes(), "--healthcheck-host") == "0.0.0.0"


def test_the_env_example_parses_with_django_environ() -> None:
    import environ

    values = dict(
        line.split("=", 1)
        for line in (DEPLOY / "onestep.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert environ.Env.db_url_config(values["DATABASE_URL"])["ENGINE"] == "django.db.backends.postgresql"
    assert float(values["ONESTEP_SHUTDOWN_TIMEOUT_S"]) > 0


def test_the_preflight_passes_on_a_sound_project(manage) -> None:
    result = subprocess.run(
        [str(DEPLOY / "preflight.sh")],
        env={**manage.env, "APP_DIR": str(ROOT), "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "onestep_check" in (DEPLOY / "kubernetes" / "worker.yaml").read_text()


def test_the_probe_paths_of_the_templates_answer(manage) -> None:
    paths = set(re.findall(r"path: (/\w+)", _kubernetes()))
    paths |= set(re.findall(r"127\.0\.0\.1:8001(/\w+)", (DEPLOY / "Containerfile").read_text()))
    assert paths == {"/healthz", "/readyz"}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    worker = manage.start("onestep_worker", "--tasks", "record", "--healthcheck-port", str(port))
    worker.wait_for_output("onestep worker pid")

    def answers(path: str) -> bool:
        # /readyz is 503 for the moment between the log line and serve() starting
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                return json.loads(response.read())["status"] in ("alive", "ready")
        except urllib.error.HTTPError:
            return False

    for path in sorted(paths):
        wait_until(functools.partial(answers, path), 30, f"{path} answering 200")
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0


def test_the_deploy_readme_lists_every_template() -> None:
    readme = (DEPLOY / "README.md").read_text()
    files = [
        p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*") if p.is_file() and p.name != "README.md"
    ]
    assert files
    assert all(f"`{name}`" in readme for name in files), files
