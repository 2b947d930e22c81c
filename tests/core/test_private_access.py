"""No module of the package touches another module's private (underscore) attributes.

The scan finds every ``<expr>._name`` in ``django_onestep/`` where ``<expr>`` is not
``self``/``cls`` and ``_name`` is not a dunder. Such an access is fine when the same
module defines ``_name`` (``self._name = ...`` or a method/attribute in one of its
classes): a module may share its private parts between its own classes. Anything
else must go through a public attribute or method, or be listed in ``ALLOWED`` with
the reason it is not a private access of ours.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "django_onestep"

MARKER = "a marker this module stores on an object it does not own, and reads back itself"

# (module path relative to django_onestep/, attribute) -> why the access is allowed
ALLOWED: dict[tuple[str, str], str] = {
    ("console/table_admins.py", "_meta"): "Django's documented model metadata API",
    ("console/worker_admin.py", "_meta"): "Django's documented model metadata API",
    ("checks/__init__.py", "_meta"): "Django's documented model metadata API",
    ("dbqueue/claims.py", "_meta"): "Django's documented model metadata API",
    ("dbqueue/rate_limit.py", "_meta"): "Django's documented model metadata API",
    **{
        (f"model_sources/{module}.py", "_meta"): "Django's documented model metadata API"
        for module in (
            "model_claims",
            "model_fields",
            "model_incremental",
            "model_queue",
            "model_sink",
            "row_keys",
        )
    },
    **{
        (f"model_sources/{module}.py", "_default_manager"): "Django's documented Model._default_manager"
        for module in ("model_claims", "model_incremental", "model_sink")
    },
    ("connectors/redaction.py", "_replace"): "namedtuple's documented method (urlsplit results)",
    ("core/http/http_sink.py", "_replace"): "namedtuple's documented method (urlsplit results)",
    ("worker/process.py", "_exit"): "os._exit, the documented immediate exit",
    ("signals.py", "_django_onestep_signal_bridge"): MARKER,
    ("testing/run.py", "_django_onestep_test_collector"): MARKER,
    ("dbqueue/claims.py", "_onestep_rc_conn"): MARKER,
}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_here(tree: ast.Module) -> set[str]:
    """Private names this module defines: ``self._x``/``cls._x`` targets and class members."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(member.name)
                elif isinstance(member, ast.AnnAssign) and isinstance(member.target, ast.Name):
                    names.add(member.target.id)
                elif isinstance(member, ast.Assign):
                    names.update(t.id for t in member.targets if isinstance(t, ast.Name))
    return {name for name in names if _is_private(name)}


def private_accesses(path: Path) -> list[tuple[int, str, str]]:
    """``(line, expression, attribute)`` of each access to another module's private name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = _defined_here(tree)
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _is_private(node.attr):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        if node.attr in own:
            continue
        found.append((node.lineno, ast.unparse(node), node.attr))
    return found


def _scan() -> dict[tuple[str, str], list[str]]:
    hits: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for line, expression, attr in private_accesses(path):
            hits.setdefault((relative, attr), []).append(f"{relative}:{line}: {expression}")
    return hits


def test_no_module_touches_another_modules_private_attributes() -> None:
    offending = [place for key, places in _scan().items() if key not in ALLOWED for place in places]
    assert offending == [], "use a public attribute or method instead:\n" + "\n".join(offending)


def test_every_allowed_exception_is_still_needed() -> None:
    stale = sorted(set(ALLOWED) - set(_scan()))
    assert stale == [], f"remove these entries from ALLOWED, nothing uses them any more: {stale}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(app):\n    app._hub.emit()\n", ["app._hub"]),
        ("def f(app):\n    app._resources = []\n", ["app._resources"]),
        ("class A:\n    def f(self):\n        self.app._lifecycle.stop()\n", ["self.app._lifecycle"]),
        ("import os\nos._exit(1)\n", ["os._exit"]),
        # not flagged: self/cls, dunders, and private names this module defines
        ("class A:\n    def f(self):\n        self._x = 1\n        return type(self).__name__\n", []),
        ("class A:\n    def _g(self): ...\n\nclass B:\n    def f(self, a):\n        a._g()\n", []),
        ("class A:\n    def __init__(self):\n        self._q = 1\n\ndef f(a):\n    return a._q\n", []),
    ],
)
def test_the_scan_finds_what_it_should(tmp_path: Path, source: str, expected: list[str]) -> None:
    module = tmp_path / "m.py"
    module.write_text(source, encoding="utf-8")
    assert [expression for _, expression, _ in private_accesses(module)] == expected
