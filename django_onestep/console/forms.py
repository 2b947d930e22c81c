"""The payload form of edit-and-replay: JSON text, validated before the confirmation page."""

from __future__ import annotations

import json
from typing import Any

from django import forms

__all__ = ["PayloadForm"]


class PayloadForm(forms.Form):
    payload = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 16, "cols": 80, "class": "vLargeTextField"}),
        strip=False,
        help_text="The JSON the task receives. The replayed job starts with a fresh attempt budget.",
    )

    @staticmethod
    def initial_text(value: Any) -> str:
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)

    def clean_payload(self) -> Any:
        text = self.cleaned_data["payload"]
        try:
            return json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"payload: not valid JSON ({exc}); fix it and submit again") from exc
