"""What every console page shares: read-only by default, no full counts, safe rendering."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from django_onestep.console.secret_masking import mask_secrets

MAX_PRETTY_CHARS = 100_000

if TYPE_CHECKING:
    from django.db.models import Model

    # django-stubs makes ModelAdmin generic in its model; Django's class is not subscriptable
    ModelAdminBase = admin.ModelAdmin[Model]
else:
    ModelAdminBase = admin.ModelAdmin

__all__ = ["ModelAdminBase", "ReadOnlyAdmin", "flat", "pre", "pretty_json"]


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON in a ``<pre>``, secrets masked (``secret_masking``)."""
    text = json.dumps(mask_secrets(value), indent=2, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > MAX_PRETTY_CHARS:
        text = text[:MAX_PRETTY_CHARS] + "\n... (truncated)"
    return format_html('<pre class="onestep-json">{}</pre>', text)


def pre(text: str) -> str:
    return format_html('<pre class="onestep-text">{}</pre>', text or "")


def flat(fields: tuple[Any, ...]) -> tuple[str, ...]:
    """``fields`` rows (names or tuples of names) as one tuple of names."""
    return tuple(name for row in fields for name in (row if isinstance(row, tuple) else (row,)))


class ReadOnlyAdmin(ModelAdminBase):
    """List and inspect; nothing is added or edited by hand here.

    Tables such as ``Job`` grow to millions of rows: every list is ordered by an indexed
    column and skips the full result count.
    """

    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
