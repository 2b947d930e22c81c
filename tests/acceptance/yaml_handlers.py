"""Handlers of tests/acceptance/yaml_app.yaml."""

from __future__ import annotations

from typing import Any

from testproject.testapp.models import Run


async def echo(ctx: Any, payload: Any) -> None:
    seen = (await ctx.state.get("seen", 0)) + 1
    await ctx.state.set("seen", seen)
    await Run.objects.acreate(label=f"{payload['label']}:{seen}", task=ctx.task.name)
