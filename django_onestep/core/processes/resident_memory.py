"""A process's resident memory, for recycling children that grow."""

from __future__ import annotations

import os
import resource
import sys

__all__ = ["resident_memory_kib"]


def resident_memory_kib() -> int:
    """The process's current resident set in KiB (its peak where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS
