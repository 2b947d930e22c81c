"""The tuned bare form: ``OneStepApp`` + ``DatabaseQueue``, concurrency 300, no telemetry.

Its connections use WAL and ``synchronous=NORMAL`` on SQLite (set per connection).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.peers.site.settings")
    from django.conf import settings

    django.setup()
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db.setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    from benchmarks.peers import probe
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.dbqueue.queue import DatabaseQueue

    app = OneStepApp("bench-bare")

    @app.task(source=DatabaseQueue("bench"), concurrency=300)
    async def noop(ctx: Any, payload: Any) -> None:
        probe.record(payload)

    asyncio.run(app.serve())


if __name__ == "__main__":
    main()
