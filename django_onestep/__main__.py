"""``python -m django_onestep run|check [--json] TARGET`` (no Django needed)."""

from __future__ import annotations

import sys

from django_onestep.core.declarative.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
