"""The runtime page's complete program prints what the page says; the benchmark runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_runtime_doc_complete_program_output_matches_the_page() -> None:
    page = (ROOT / "docs" / "runtime.md").read_text()
    code = re.search(r"## A complete program\n\n```python\n(.*?)```", page, re.S)
    expected = re.search(r"\nprints\n\n```text\n(.*?)```", page, re.S)
    assert code and expected
    result = subprocess.run(
        [sys.executable, "-c", code.group(1)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected.group(1)


def test_memory_queue_benchmark_runs_both_implementations() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/memory_queue.py", "--n", "300", "--concurrency", "4", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) == {"ours", "onestep"}
    for impl, row in figures.items():
        assert row["impl"] == impl
        assert (row["n"], row["concurrency"]) == (300, 4)
        assert row["tasks_per_s"] > 0 and row["cpu_us_per_task"] > 0 and row["peak_rss_mib"] > 0
