"""How an app's process pool is sized and recycled (``app.process_pool_options``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django_onestep.core.validation import optional_positive_int, optional_positive_number

__all__ = ["ProcessPoolOptions"]


@dataclass(frozen=True)
class ProcessPoolOptions:
    """``size``: children at most (default: the CPU count, at least 2). ``setup_path``:
    ``"module:function"`` each child calls once before its first task; it may return a
    wrapper ``wrapper(call)`` that every call runs inside. ``max_tasks_per_child`` /
    ``max_memory_per_child_mb``: a child that reaches either exits after its answer and
    is replaced (memory is read after each call)."""

    size: int | None = None
    setup_path: str | None = None
    max_tasks_per_child: int | None = None
    max_memory_per_child_mb: float | None = None

    def __post_init__(self) -> None:
        optional_positive_int("process pool size", self.size)
        optional_positive_int("process pool max_tasks_per_child", self.max_tasks_per_child)
        optional_positive_number("process pool max_memory_per_child_mb", self.max_memory_per_child_mb)

    @property
    def pool_size(self) -> int:
        return self.size if self.size is not None else max(2, os.cpu_count() or 1)
