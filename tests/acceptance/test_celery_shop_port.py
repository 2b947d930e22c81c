"""The migration guide's ported project (docs/examples/celery_shop_onestep): its own tests,
and its tasks under a real ``manage.py onestep_worker``, with no Celery installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import ROOT

PORTED = ROOT / "docs" / "examples" / "celery_shop_onestep"
# its own SQLite files: the database tiers add nothing here
pytestmark = pytest.mark.sqlite_only


def _env(tmp_path: Path) -> dict[str, str]:
    # a celery package that refuses to import, first on the path: the port must not need it
    blocker = tmp_path / "no_celery" / "celery"
    blocker.mkdir(parents=True, exist_ok=True)
    (blocker / "__init__.py").write_text("raise ImportError('the ported project must not import celery')\n")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}",
        "TEST_DATABASE_NAME": str(tmp_path / "test.sqlite3"),
        "PYTHONPATH": os.pathsep.join([str(blocker.parent), str(ROOT)]),
        "PYTHONUNBUFFERED": "1",
    }


def _run(tmp_path: Path, *args: str, timeout_s: float = 120.0) -> Any:
    return subprocess.run(
        [sys.executable, *args],
        cwd=PORTED,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def test_celery_cannot_be_imported_there(tmp_path: Path) -> None:
    result = _run(tmp_path, "-c", "import celery")
    assert "the ported project must not import celery" in result.stderr


def test_the_ported_projects_tests_pass(tmp_path: Path) -> None:
    result = _run(tmp_path, "-m", "pytest", "-q", "-p", "no:cacheprovider", timeout_s=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "12 passed" in result.stdout


PLACE_AND_PAY = """
from django.test import Client
from orders.models import Order
client = Client()
placed = client.post("/orders/", {"customer": "ada", "email": "ada@example.com", "lines": [
    {"sku": "mug", "quantity": 2, "unit_price": "7.50"}]}, content_type="application/json")
order_id = placed.json()["id"]
Order.objects.filter(pk=order_id).update(total="15.00")
print(client.post(f"/orders/{order_id}/pay/").json())
"""

READ_BACK = """
from django_onestep.models import Job
from orders.models import Order
order = Order.objects.get()
print(order.status, order.stock_reserved, order.erp_synced, order.invoice)
print(sorted((job.queue, job.status) for job in Job.objects.all()))
"""


def test_its_tasks_run_under_onestep_worker(tmp_path: Path) -> None:
    migrate = _run(tmp_path, "manage.py", "migrate", "-v", "0")
    assert migrate.returncode == 0, migrate.stderr
    placed = _run(tmp_path, "manage.py", "shell", "-v", "0", "-c", PLACE_AND_PAY)
    assert placed.returncode == 0, placed.stderr
    assert placed.stdout.strip() == "{'id': 1, 'status': 'paid'}"

    worker = _run(tmp_path, "manage.py", "onestep_worker", "--once")
    assert worker.returncode == 0, worker.stdout + worker.stderr

    state = _run(tmp_path, "manage.py", "shell", "-v", "0", "-c", READ_BACK)
    assert state.returncode == 0, state.stderr
    summary, jobs = state.stdout.strip().splitlines()
    # render_invoice (time_limit=) ran in a child process of the real worker
    assert summary == "paid True True %PDF invoice 1 total 15.00"
    # the reminder waits its day (countdown=); everything else is done
    assert jobs == str(
        sorted(
            [
                ("orders.tasks.remind_unpaid", "queued"),
                ("orders.tasks.render_invoice", "done"),
                ("orders.tasks.reserve_stock", "done"),
                ("orders.tasks.send_confirmation", "done"),
                ("orders.tasks.sync_to_erp", "done"),
            ]
        )
    )
