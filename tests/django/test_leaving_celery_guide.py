"""docs/leaving-celery.md shows what the code does: the diff of the two example trees, the
settings block printed for the Celery project's settings, and the rate_limit kept."""

from __future__ import annotations

import re
import runpy
import sys
import types
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from django_onestep.celery import shared_task

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "leaving-celery.md").read_text()
BEFORE_SETTINGS = ROOT / "docs" / "examples" / "celery_shop" / "shop_project" / "settings.py"

# files only: no database, so the SQLite pass is enough
pytestmark = pytest.mark.sqlite_only


def _fenced_after(marker: str, fence: str) -> str:
    return GUIDE.split(marker, 1)[1].split(f"```{fence}\n", 1)[1].split("```", 1)[0]


def test_the_guides_diff_matches_the_two_trees() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import celery_shop_diff
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert celery_shop_diff.guide_with_diff(GUIDE) == GUIDE, "run python scripts/celery_shop_diff.py --write"
    assert "### `orders/tasks.py`" in GUIDE and "+from django_onestep.celery import shared_task" in GUIDE


class _Crontab:
    def __init__(self, **fields: Any) -> None:
        self.fields = fields


def _before_celery_settings(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The Celery project's settings module, run with a stand-in for celery.schedules."""
    schedules = types.ModuleType("celery.schedules")
    schedules.crontab = _Crontab  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "celery", types.ModuleType("celery"))
    monkeypatch.setitem(sys.modules, "celery.schedules", schedules)
    namespace = runpy.run_path(str(BEFORE_SETTINGS))
    return {name: value for name, value in namespace.items() if name.startswith("CELERY_")}


def test_step_2_shows_what_the_command_prints_for_the_celery_projects_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    celery = _before_celery_settings(monkeypatch)
    assert "CELERY_BEAT_SCHEDULE" in celery and "CELERY_BROKER_URL" in celery
    out = StringIO()
    with override_settings(**celery):
        call_command("onestep_celery_settings", stdout=out)
    assert out.getvalue() == _fenced_after("## 2. Replace the settings", "text")
    printed: dict[str, Any] = {}
    exec(out.getvalue(), printed)
    assert _ported_onestep() == {"APP_NAME": "shop", **printed["ONESTEP"]}


def test_step_5_shows_the_rate_limit_kept() -> None:
    shown = _fenced_after("## 5. Keep `rate_limit`", "text").strip()
    task = shared_task(name="orders.tasks.sync_to_erp", rate_limit="10/m")(lambda order_id: None)
    assert shown == f">>> tasks.sync_to_erp.queue.rate_limit\n{task.queue.rate_limit!r}"


def _ported_onestep() -> Any:
    ported = (ROOT / "docs" / "examples" / "celery_shop_onestep" / "shop_project" / "settings.py").read_text()
    block = re.search(r"^ONESTEP = \{\n.*?^\}\n", ported, re.S | re.M)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(block.group(0), namespace)
    return namespace["ONESTEP"]
