"""The layering contracts in pyproject.toml hold, and breaking one fails `lint-imports`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    shutil.copytree(
        ROOT / "django_onestep", tree / "django_onestep", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tree


def test_the_contracts_hold(tmp_path: Path) -> None:
    result = _lint_imports(_copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_django_import_in_core_breaks_the_core_contract(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    module = tree / "django_onestep" / "core" / "runtime" / "context.py"
    module.write_text(module.read_text() + "\nfrom django.db import transaction  # noqa\n")
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "The runtime core imports neither Django" in result.stdout
    assert "django_onestep.core.runtime.context -> django (l." in result.stdout


def test_a_connector_importing_the_orm_breaks_the_connector_contract(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    module = tree / "django_onestep" / "connectors" / "codec.py"
    module.write_text(module.read_text() + "\nimport django_onestep.orm.stores  # noqa\n")
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "Connectors import no Django and no Django layer BROKEN" in result.stdout


def test_a_function_level_import_of_the_orm_in_conf_breaks_the_settings_contract(tmp_path: Path) -> None:
    # the orm, dbqueue and project read the settings: conf importing them, even inside a
    # function, is the import circle this contract keeps out
    tree = _copy_tree(tmp_path)
    module = tree / "django_onestep" / "conf.py"
    module.write_text(
        module.read_text() + "\n\ndef _store():\n    from django_onestep.orm import stores  # noqa\n"
    )
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "The settings reader imports only Django and the core" in result.stdout
    assert "django_onestep.conf -> django_onestep.orm.stores (l." in result.stdout
