"""What a user's type checker sees of ``django_onestep``'s public names.

The names load lazily through a module ``__getattr__`` (typed ``Any``), so
``__init__.py`` also imports each one under ``TYPE_CHECKING``; these tests keep the two
lists equal and run mypy --strict on a user's module to see the concrete types.
"""

from __future__ import annotations

import ast
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
