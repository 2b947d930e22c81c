"""Each row of the table: how to reset its backend, enqueue, and start its worker.

Imported inside the row's own venv (the product's for ``ours``/``bare``, the peers'
venv for the rest), so every library import is local to the class that needs it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

from benchmarks.peers.harness import ROOT

SITE = ["-m", "django"]


class DjangoPeer:
    """A peer that lives in a Django project: ours, django-tasks-db, django-q2."""

    in_process = False
    peer = "ours"
    tables: tuple[str, ...] = ()

    def __init__(self, db_url: str, wal: bool, concurrency: int) -> None:
        self.db_url, self.wal, self.concurrency = db_url, wal, concurrency
        self.env = {"PEER": self.peer, "DATABASE_URL": db_url, "PEER_CONCURRENCY": str(concurrency),
                    "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "benchmarks.peers.site.settings"}  # fmt: skip
        os.environ.update(self.env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.peers.site.settings"
        subprocess.run([sys.executable, *SITE, "migrate", "-v0"], check=True, cwd=ROOT, env={**os.environ})
        if wal:  # the journal mode is stored in the file: the worker's connections get it too
            path = urlsplit(db_url).path
            sqlite3.connect(path[1:] if path.startswith("//") else path).execute(
                "PRAGMA journal_mode=WAL"
            ).close()
        import django

        django.setup()

    def reset(self) -> None:
        from django.apps import apps
        from django.db import connection

        for label in self.tables:
            apps.get_model(label).objects.all().delete()
        connection.close()

    def worker_command(self) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, *SITE, *self.worker_args()], self.env

    def worker_args(self) -> list[str]:
        raise NotImplementedError

    def enqueue_many(self, n: int) -> None:
        from django.db import connection, transaction

        with transaction.atomic():
            for i in range(n):
                self.enqueue_one({"i": i})
        connection.close()


class Ours(DjangoPeer):
    tables = ("django_onestep.Job", "django_onestep.TaskMetric", "django_onestep.WorkerHeartbeat")

    def worker_args(self) -> list[str]:
        return ["onestep_worker"]

    def enqueue_many(self, n: int) -> None:
        from benchmarks.peers.site.benchtasks.tasks import bench

        bench.send_many([{"i": i} for i in range(n)])

    def enqueue_one(self, payload: dict[str, Any]) -> None:
        from benchmarks.peers.site.benchtasks.tasks import bench

        bench.send(payload)


class Bare(Ours):
    """The tuned form: a bare OneStepApp, concurrency 300, telemetry off, WAL + NORMAL."""

    def worker_command(self) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-m", "benchmarks.peers.bare_worker"], self.env


class DjangoTasksDb(DjangoPeer):
    peer = "django-tasks-db"
    tables = ("django_tasks_database.DBTaskResult",)

    def worker_args(self) -> list[str]:
        return ["db_worker"]

    def enqueue_one(self, payload: dict[str, Any]) -> None:
        from benchmarks.peers.site.benchtasks.tasks import noop

        noop.enqueue(payload)  # type: ignore[attr-defined]


class DjangoQ2(DjangoPeer):
    peer = "django-q2"
    tables = ("django_q.OrmQ", "django_q.Task")

    def worker_args(self) -> list[str]:
        return ["qcluster"]

    def enqueue_one(self, payload: dict[str, Any]) -> None:
        from django_q.tasks import async_task

        async_task("benchmarks.peers.site.benchtasks.tasks.noop", payload)


class Procrastinate:
    in_process = False

    def __init__(self, db_url: str, concurrency: int) -> None:
        self.env = {"PEER_PG_URL": db_url, "PEER_CONCURRENCY": str(concurrency), "PYTHONPATH": str(ROOT)}
        os.environ.update(self.env)
        from benchmarks.peers import procrastinate_app

        self.mod = procrastinate_app
        with procrastinate_app.app.open():
            procrastinate_app.app.schema_manager.apply_schema()

    def reset(self) -> None:
        import psycopg

        with psycopg.connect(self.env["PEER_PG_URL"], autocommit=True) as conn:
            conn.execute("TRUNCATE procrastinate_jobs CASCADE")

    def enqueue_many(self, n: int) -> None:
        with self.mod.app.open():
            for start in range(0, n, 1000):
                self.mod.noop.batch_defer(
                    *({"payload": {"i": i}} for i in range(start, min(n, start + 1000)))
                )

    def enqueue_one(self, payload: dict[str, Any]) -> None:
        if not getattr(self, "_open", False):
            self.mod.app.open()
            self._open = True
        self.mod.noop.defer(payload=payload)

    def worker_command(self) -> tuple[list[str], dict[str, str]]:
        cmd = [sys.executable, "-m", "procrastinate", "--app", "benchmarks.peers.procrastinate_app.app",
               "worker", "--concurrency", self.env["PEER_CONCURRENCY"]]  # fmt: skip
        return cmd, self.env


class Celery:
    in_process = False

    def __init__(self, redis_url: str) -> None:
        self.env = {"PEER_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
        os.environ.update(self.env)
        from benchmarks.peers import celery_app

        self.mod = celery_app

    def reset(self) -> None:
        self.mod.app.backend  # noqa: B018 - ignore_result: no backend traffic
        with self.mod.app.connection_for_write() as conn:
            conn.default_channel.client.flushdb()

    def enqueue_many(self, n: int) -> None:
        for i in range(n):
            self.mod.noop.apply_async(({"i": i},))

    def enqueue_one(self, payload: dict[str, Any]) -> None:
        self.mod.noop.apply_async((payload,))

    def worker_command(self) -> tuple[list[str], dict[str, str]]:
        cmd = [sys.executable, "-m", "celery", "-A", "benchmarks.peers.celery_app", "worker", "-P", "solo",
               "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]  # fmt: skip
        return cmd, self.env


class Onestep115:
    """onestep 1.15: its MemoryQueue (the worker enqueues its own jobs) or onestep-redis."""

    def __init__(self, redis_url: str | None) -> None:
        self.redis_url = redis_url
        self.in_process = redis_url is None
        self.env = {"PYTHONPATH": str(ROOT), **({"PEER_REDIS_URL": redis_url} if redis_url else {})}
        self._client: Any = None

    def reset(self) -> None:
        if self.redis_url:
            import redis

            self._client = self._client or redis.Redis.from_url(self.redis_url)
            self._client.flushdb()

    def enqueue_many(self, n: int) -> None:
        from onestep.connectors.codec import encode_envelope  # type: ignore[import-not-found]
        from onestep.envelope import Envelope  # type: ignore[import-not-found]

        pipe = self._client.pipeline(transaction=False)
        for i in range(n):
            pipe.xadd("bench", {"body": encode_envelope(Envelope(body={"i": i}))})
        pipe.execute()

    def enqueue_one(self, payload: dict[str, Any]) -> None:
        from onestep.connectors.codec import encode_envelope
        from onestep.envelope import Envelope

        self._client.xadd("bench", {"body": encode_envelope(Envelope(body=payload))})

    def worker_command(self) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-m", "benchmarks.peers.onestep_worker"], self.env
