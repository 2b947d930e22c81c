"""An app whose source breaks for good: the worker must exit 1 (runtime failure)."""

from __future__ import annotations

from django_onestep import OneStepApp, Source


class BrokenSource(Source):
    async def fetch(self, limit: int) -> list:
        raise RuntimeError("the source lost its table for good")


app = OneStepApp("broken")


@app.task(source=BrokenSource("broken-source"))
async def never_runs(ctx, payload):
    return None
