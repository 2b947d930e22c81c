"""The diff between the migration guide's two example trees, as the guide shows it.

``docs/leaving-celery.md`` keeps the output between its ``<!-- diff:begin -->`` and
``<!-- diff:end -->`` markers. Run ``python scripts/celery_shop_diff.py --write`` after
changing either tree; ``--check`` (and the test suite) fails when the guide is stale.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = ROOT / "docs" / "examples" / "celery_shop"
AFTER = ROOT / "docs" / "examples" / "celery_shop_onestep"
GUIDE = ROOT / "docs" / "leaving-celery.md"
BEGIN, END = "<!-- diff:begin -->\n", "<!-- diff:end -->\n"
SKIPPED = {"README.md"}  # each tree's README describes that tree


def _files(tree: Path) -> set[str]:
    return {
        path.relative_to(tree).as_posix()
        for path in tree.rglob("*")
        if path.is_file() and path.suffix in {".py", ".ini"} and "__pycache__" not in path.parts
    } - SKIPPED


def diff_markdown() -> str:
    """One section per file that differs, in path order, each a unified diff."""
    sections = []
    for name in sorted(_files(BEFORE) | _files(AFTER)):
        old = (BEFORE / name).read_text().splitlines(keepends=True) if (BEFORE / name).exists() else []
        new = (AFTER / name).read_text().splitlines(keepends=True) if (AFTER / name).exists() else []
        lines = list(
            difflib.unified_diff(old, new, f"celery_shop/{name}", f"celery_shop_onestep/{name}", n=2)
        )
        if lines:
            sections.append(f"### `{name}`\n\n```diff\n{''.join(lines)}```\n")
    return "\n".join(sections)


def guide_with_diff(guide: str) -> str:
    head, rest = guide.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}{diff_markdown()}{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update the guide in place")
    parser.add_argument("--check", action="store_true", help="exit 1 when the guide's diff is stale")
    options = parser.parse_args()
    if not (options.write or options.check):
        sys.stdout.write(diff_markdown())
        return 0
    current = GUIDE.read_text()
    wanted = guide_with_diff(current)
    if options.write:
        GUIDE.write_text(wanted)
    elif wanted != current:
        print(f"{GUIDE.relative_to(ROOT)}: the diff is stale; run python scripts/celery_shop_diff.py --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
