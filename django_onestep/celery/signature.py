"""``task.s(...)`` / ``task.si(...)``: a call written down to be made later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_onestep.celery.shared_task import CeleryTask

__all__ = ["Signature"]


class Signature:
    """Arguments for ``task``; calling it with more arguments prepends them (as Celery
    does), unless it is immutable (``si``)."""

    def __init__(
        self,
        task: CeleryTask,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        immutable: bool = False,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.task = task
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.immutable = immutable
        self.options = dict(options or {})

    def merged(
        self, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if self.immutable:
            return self.args, dict(self.kwargs)
        return (*args, *self.args), {**self.kwargs, **(kwargs or {})}

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    def apply_async(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any
    ) -> Any:
        call_args, call_kwargs = self.merged(args or (), kwargs)
        return self.task.apply_async(call_args, call_kwargs, **{**self.options, **options})

    def set(self, **options: Any) -> Signature:
        self.options.update(options)
        return self

    def clone(self) -> Signature:
        return Signature(self.task, self.args, self.kwargs, immutable=self.immutable, options=self.options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        call_args, call_kwargs = self.merged(args, kwargs)
        return self.task(*call_args, **call_kwargs)

    def __repr__(self) -> str:
        shown = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.task.name}.{'si' if self.immutable else 's'}({', '.join(shown)})"
