"""What a user's type checker sees of ``django_onestep``'s public names.

The names load lazily through a module ``__getattr__`` (typed ``Any``), so
``__init__.py`` also imports each one under ``TYPE_CHECKING``; these tests keep the two
lists equal and run mypy --strict on a user's module to see the concrete types.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import django_onestep

ROOT = Path(__file__).resolve().parents[2]
INIT = ROOT / "django_onestep" / "__init__.py"


def _type_checking_imports() -> dict[str, str]:
    """name -> module of every import under ``if TYPE_CHECKING:`` in ``__init__.py``."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    ]
    assert len(blocks) == 1, "django_onestep/__init__.py needs exactly one 'if TYPE_CHECKING:' block"
    imports: dict[str, str] = {}
    for statement in blocks[0].body:
        assert isinstance(statement, ast.ImportFrom) and statement.module, (
            f"line {statement.lineno}: only 'from module import Name as Name' belongs in the block"
        )
        for alias in statement.names:
            # ``X as X`` is what marks a re-export for mypy --strict and pyright
            assert alias.asname == alias.name, (
                f"line {statement.lineno}: write '{alias.name} as {alias.name}'"
            )
            assert alias.name not in imports, f"{alias.name} is imported twice"
            imports[alias.name] = statement.module
    return imports


def test_type_checking_imports_mirror_exports() -> None:
    imports = _type_checking_imports()
    exports = django_onestep._EXPORTS
    missing = {name: module for name, module in exports.items() if imports.get(name) != module}
    extra = {name: module for name, module in imports.items() if exports.get(name) != module}
    assert not missing, f"_EXPORTS names not imported (from the same module) under TYPE_CHECKING: {missing}"
    assert not extra, f"TYPE_CHECKING imports that _EXPORTS does not list (with that module): {extra}"


# A user's module; each line ending in ``# <key>`` is looked up by that key below.
USER_CODE = textwrap.dedent(
    """
    from django_onestep import (
        DatabaseQueue,
        MaxAttempts,
        MemoryQueue,
        OneStepApp,
        TaskContext,
        app as project_app,
    )

    reveal_type(OneStepApp)  # app_class
    app = OneStepApp("x")
    reveal_type(app)  # app
    reveal_type(app.task)  # task
    reveal_type(project_app)  # project_app
    reveal_type(DatabaseQueue)  # database_queue
    q = MemoryQueue("jobs")
    reveal_type(q)  # memory_queue
    reveal_type(MaxAttempts(3))  # max_attempts


    @app.task(source=q, retry=MaxAttempts(3))
    async def handle(ctx: TaskContext, payload: dict[str, int]) -> None:
        return None


    reveal_type(handle)  # handle
    reveal_type(handle.enqueue)  # enqueue
    reveal_type(handle.aenqueue)  # aenqueue
    reveal_type(handle.task_spec)  # task_spec


    @app.task()
    def plain(ctx: TaskContext, payload: str) -> int:
        return len(payload)


    reveal_type(plain)  # plain


    @app.task
    def bare(ctx: TaskContext, payload: str) -> None:
        return None


    reveal_type(bare)  # bare


    def call(ctx: TaskContext) -> int:
        return plain(ctx, 42)  # wrong_payload
    """
)

# mypy treats the package like an installed one: its modules are analysed, but only
# errors in the user's module are reported.
MYPY_INI = textwrap.dedent(
    """
    [mypy]
    strict = True

    [mypy-django_onestep.*]
    follow_imports = silent
    """
)

# ``Any`` that is not ours to remove: every ``async def`` returns ``Coroutine[Any, Any, T]``,
# and OneStepApp's ``config`` parameter accepts any mapping.
ALLOWED_ANY = ("typing.Coroutine[Any, Any, ", "config: typing.Mapping[str, Any] | None")

TASK_FUNCTION = "django_onestep.core.runtime.task_function.TaskFunction"
ONESTEP_APP = "django_onestep.core.runtime.app.OneStepApp"


def _run_mypy(tmp_path: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(key -> revealed type, key -> error codes) for the user's module."""
    (tmp_path / "user_code.py").write_text(USER_CODE, encoding="utf-8")
    (tmp_path / "mypy.ini").write_text(MYPY_INI, encoding="utf-8")
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    mypy = [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", ".mypy_cache"]
    result = subprocess.run(
        [*mypy, "user_code.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    keys = {
        number: line.rsplit("# ", 1)[1]
        for number, line in enumerate(USER_CODE.splitlines(), start=1)
        if re.search(r"# \w+$", line)
    }
    revealed: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        match = re.match(r"user_code\.py:(\d+): (note|error): (.*)", line)
        assert match or not line.startswith("user_code.py"), line
        if not match:
            continue
        key = keys.get(int(match[1]), f"line {match[1]}")
        if match[2] == "note" and match[3].startswith("Revealed type is "):
            revealed[key] = match[3].removeprefix("Revealed type is ").strip('"')
        elif match[2] == "error":
            code = re.search(r"\[([\w-]+)\]$", match[3])
            errors.setdefault(key, []).append(code[1] if code else match[3])
    assert revealed, f"mypy revealed nothing:\n{result.stdout}\n{result.stderr}"
    return revealed, errors


def test_user_code_sees_concrete_types(tmp_path: Path) -> None:
    revealed, errors = _run_mypy(tmp_path)

    assert revealed["app_class"].endswith(f"-> {ONESTEP_APP}")
    assert revealed["app"] == ONESTEP_APP
    assert revealed["project_app"] == ONESTEP_APP
    assert revealed["database_queue"].endswith("-> django_onestep.dbqueue.queue.DatabaseQueue")
    assert revealed["memory_queue"] == "django_onestep.core.runtime.memory.MemoryQueue"
    assert revealed["max_attempts"] == "django_onestep.core.retry.MaxAttempts"
    # @app.task(...) gives a decorator; the bare @app.task raises, so it returns Never
    assert "-> django_onestep.core.runtime.task_function.TaskDecorator" in revealed["task"]
    assert "-> Never" in revealed["task"]
    assert revealed["bare"] == "Never"

    # the decorated handler keeps its signature and gains the task API
    context = "django_onestep.core.runtime.context.TaskContext"
    assert revealed["handle"] == (
        f"{TASK_FUNCTION}[[ctx: {context}, payload: dict[str, int]], typing.Coroutine[Any, Any, None]]"
    )
    assert revealed["plain"] == f"{TASK_FUNCTION}[[ctx: {context}, payload: str], int]"
    assert revealed["enqueue"] == "def (payload: object, **options: object) -> object"
    assert revealed["aenqueue"] == "def (payload: object, **options: object) -> typing.Awaitable[object]"
    assert revealed["task_spec"] == "django_onestep.core.runtime.task.TaskSpec"

    for key, text in revealed.items():
        for allowed in ALLOWED_ANY:
            text = text.replace(allowed, "")
        assert not re.search(r"\bAny\b", text), f"{key}: {revealed[key]}"

    # the one mistake in the module is found, and nothing else is reported (no
    # "untyped decorator", no missing re-export)
    assert errors == {"wrong_payload": ["arg-type"]}, errors
