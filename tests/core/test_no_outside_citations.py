"""Code and docs cite nothing outside the repository: a maintainer has only the repo."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The product specification and shared notes live outside the repository.
OUTSIDE = re.compile(r"SPEC §|SPEC\.md|\.\./shared|dbqueue-notes")


def test_code_and_docs_cite_nothing_outside_the_repository() -> None:
    files = [
        *ROOT.joinpath("django_onestep").rglob("*.py"),
        *ROOT.joinpath("docs").rglob("*.md"),
        ROOT / "README.md",
    ]
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert hits == []
