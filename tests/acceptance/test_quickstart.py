"""docs/quickstart.md, followed literally in a fresh ``django-admin startproject``.

Each code block of the page is preceded by a ``<!-- quickstart-test: ... -->`` comment
saying what to do with it:

- ``run``: shell commands, one per line (``django-admin``, ``python``, ``cd``);
- ``write PATH`` / ``append PATH``: the block is (the end of) that file;
- ``shell``: the block is typed into ``python manage.py shell``;
- ``skip (reason)``: not run here (installing the package, a curl against runserver).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "docs" / "quickstart.md"

_BLOCK = re.compile(
    r"<!-- quickstart-test: (?P<action>[^>]*?) -->\n```(?P<lang>\w*)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)


@dataclass
class Step:
    action: str
    argument: str
    body: str


def quickstart_steps() -> list[Step]:
    text = QUICKSTART.read_text()
    steps = []
    for match in _BLOCK.finditer(text):
        action, _, argument = match["action"].partition(" ")
        steps.append(Step(action, argument, match["body"]))
    fences = len(re.findall(r"^```\w", text, re.MULTILINE))
    assert len(steps) == fences, "every code block of the quickstart needs a quickstart-test comment"
    return steps


class Project:
    """Runs commands as a user would, in ``directory`` (``cd`` moves it)."""

    def __init__(self, directory: Path) -> None:
        self.cwd = directory
        # nothing of the test suite's project may leak in: only the new project's settings
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "PYTHONPATH")
        }

    def run(self, argv: list[str], stdin: str | None = None) -> str:
        command = {"python": [sys.executable], "django-admin": [sys.executable, "-m", "django"]}
        assert argv[0] in command, f"the quickstart runs {argv[0]!r}: teach this test what it is"
        result = subprocess.run(
            [*command[argv[0]], *argv[1:]],
            cwd=self.cwd,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (
            f"{shlex.join(argv)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
        return result.stdout

    def run_lines(self, script: str) -> str:
        output = ""
        for line in script.splitlines():
            argv = shlex.split(line, comments=True)
            if not argv:
                continue
            if argv[0] == "cd":
                self.cwd = self.cwd / argv[1]
                continue
            output = self.run(argv)
        return output


def last_line(output: str) -> str:
    """What the code printed last (Django's shell may first say what it imported)."""
    return output.rstrip("\n").splitlines()[-1]


def follow(steps: list[Step], project: Project) -> str:
    """Do every step; return the output of the last command."""
    output = ""
    for step in steps:
        if step.action == "run":
            output = project.run_lines(step.body)
        elif step.action == "write":
            (project.cwd / step.argument).write_text(step.body)
        elif step.action == "append":
            path = project.cwd / step.argument
            path.write_text(path.read_text() + "\n" + step.body)
        elif step.action == "shell":
            output = project.run(["python", "manage.py", "shell", "-c", step.body])
        else:
            assert step.action == "skip", f"unknown quickstart-test action {step.action!r}"
    return output


def test_every_block_is_marked_and_the_install_step_is_the_only_package_install() -> None:
    steps = quickstart_steps()
    skipped = [step.body for step in steps if step.action == "skip"]
    assert skipped[0].startswith("pip install django-onestep")
    assert not any("pip install" in step.body for step in steps if step.action != "skip")


@pytest.mark.timeout(120)
def test_the_quickstart_works_as_written(tmp_path: Path) -> None:
    project = Project(tmp_path)
    last_output = follow(quickstart_steps(), project)
    assert last_line(last_output) == "[('ada', 'processed')]"

    # the view of the page enqueues too (posted in-process: the curl step needs runserver)
    post = (
        "from django.test import Client\n"
        "from django.test.utils import setup_test_environment\n"
        "setup_test_environment()\n"
        "response = Client().post('/orders/', {'customer': 'grace', 'amount': '9.90'}, "
        "content_type='application/json')\n"
        "print(response.status_code, response.content.decode())\n"
    )
    status, _, body = last_line(project.run(["python", "manage.py", "shell", "-c", post])).partition(" ")
    assert status == "201"
    assert json.loads(body) == {"id": 2, "status": "new"}
    project.run(["python", "manage.py", "onestep_worker", "--once"])
    check = "from orders.models import Order; print(Order.objects.get(pk=2).status)"
    assert last_line(project.run(["python", "manage.py", "shell", "-c", check])) == "processed"
