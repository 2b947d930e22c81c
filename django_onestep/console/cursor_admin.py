"""The cursors page: view, edit (JSON, validated, confirmed) and reset a source's position.

Editing needs ``change_cursor``, resetting ``delete_cursor``; both go through a
confirmation page and are written to the admin's history. Resetting deletes the row:
the source starts again from its initial position, as on its first run. A worker
reading the cursor picks the new value up at its next load.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from django_onestep.console.admin_base import pretty_json
from django_onestep.console.forms import PayloadForm
from django_onestep.console.secret_masking import mask_secrets, restore_masked
from django_onestep.console.table_admins import KeyValueAdmin
from django_onestep.models import Cursor
from django_onestep.orm import lossless_json

__all__ = ["CursorAdmin"]


@admin.register(Cursor)
class CursorAdmin(KeyValueAdmin):
    change_form_template = "admin/django_onestep/cursor/change_form.html"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/edit/", wrap(self.edit_view), name="django_onestep_cursor_edit"),
            path("<path:object_id>/reset/", wrap(self.reset_view), name="django_onestep_cursor_reset"),
            *super().get_urls(),
        ]

    def _log(self, request: HttpRequest, row: Cursor, flag: int, message: str) -> None:
        assert request.user.pk is not None  # admin views are for logged-in staff only
        LogEntry.objects.log_actions(request.user.pk, [row], flag, change_message=message, single_object=True)

    def _page(self, request: HttpRequest, row: Cursor, template: str, **context: object) -> TemplateResponse:
        base = {**self.admin_site.each_context(request), "opts": self.opts, "original": row}
        return TemplateResponse(request, f"admin/django_onestep/cursor/{template}", {**base, **context})

    def edit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("django_onestep.change_cursor"):
            raise PermissionDenied
        row = get_object_or_404(Cursor, pk=object_id)
        current = lossless_json.loads(row.value_json)
        if request.method != "POST":
            form = PayloadForm(initial={"payload": PayloadForm.initial_text(mask_secrets(current))})
            return self._page(request, row, "edit.html", form=form, title=f"Edit cursor {row.key}")
        form = PayloadForm(request.POST)
        if not form.is_valid():
            return self._page(request, row, "edit.html", form=form, title=f"Edit cursor {row.key}")
        if request.POST.get("confirm") != "yes":
            shown = pretty_json(form.cleaned_data["payload"])
            return self._page(request, row, "edit.html", form=form, confirming=True, new_value=shown,
                              title=f"Edit cursor {row.key}")  # fmt: skip
        value = restore_masked(form.cleaned_data["payload"], current)
        Cursor.objects.filter(pk=row.pk).update(
            value_json=lossless_json.dumps(value), version=F("version") + 1
        )
        self._log(request, row, CHANGE, "Value edited")
        self.message_user(request, f"Cursor {row.key} saved.")
        return HttpResponseRedirect(reverse("admin:django_onestep_cursor_change", args=[row.pk]))

    def reset_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("django_onestep.delete_cursor"):
            raise PermissionDenied
        row = get_object_or_404(Cursor, pk=object_id)
        if request.method != "POST":
            return self._page(request, row, "reset.html", title=f"Reset cursor {row.key}")
        self._log(request, row, DELETION, "Reset (deleted)")
        row.delete()
        self.message_user(request, f"Cursor {row.key} reset: its source starts from the beginning.")
        return HttpResponseRedirect(reverse("admin:django_onestep_cursor_changelist"))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, object] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_edit": request.user.has_perm("django_onestep.change_cursor"),
            "can_reset": request.user.has_perm("django_onestep.delete_cursor"),
        }
        return super().change_view(request, object_id, form_url, context)
