"""The lease and per-key indexes of ``Job`` keep only the rows their queries look for,
where the database has partial indexes (SQLite and PostgreSQL).

Every claim and every settlement writes the columns of both indexes. Declared in full,
each index takes a delete and an insert twice in every job's life. Made partial, the
lease index takes one insert at the claim and one delete at the settlement, and the key
index nothing at all for a job without a key. They also stay small while done rows pile up.

MySQL and MariaDB have no partial indexes, and Django warns about a ``Meta`` index with a
condition there, so the model goes on declaring the full indexes and this migration
replaces them, under the same names, where the database can do better.
"""

from typing import Any

from django.db import migrations, models
from django.db.models import Q

# name -> (columns, condition); the columns are the model's, so the model state holds
PARTIAL = {
    "onestep_job_lease": (["status", "lease_until"], Q(status="running")),
    "onestep_job_key": (
        ["queue", "concurrency_key", "status"],
        Q(status="running", concurrency_key__isnull=False),
    ),
}


def _swap(apps: Any, schema_editor: Any, *, partial: bool) -> None:
    if not schema_editor.connection.features.supports_partial_indexes:
        return
    job = apps.get_model("django_onestep", "Job")
    for name, (fields, condition) in PARTIAL.items():
        old = models.Index(fields=fields, name=name, condition=None if partial else condition)
        new = models.Index(fields=fields, name=name, condition=condition if partial else None)
        schema_editor.remove_index(job, old)
        schema_editor.add_index(job, new)


def make_partial(apps: Any, schema_editor: Any) -> None:
    _swap(apps, schema_editor, partial=True)


def make_full(apps: Any, schema_editor: Any) -> None:
    _swap(apps, schema_editor, partial=False)


class Migration(migrations.Migration):
    dependencies = [
        ("django_onestep", "0011_flow_control"),
    ]

    operations = [
        migrations.RunPython(make_partial, make_full, elidable=False),
    ]
