"""The ORM statements of a ``ModelQueue``: claim a batch, settle rows, extend leases.

Rows are known by their primary key; a claim keeps it as text (``row_key``, see
``row_keys``).
Each function runs on a database thread inside one transaction. Claims lock rows with
``select_for_update(skip_locked=True)`` where the database has it (MariaDB, MySQL,
PostgreSQL); SQLite has one writer at a time, so an IMMEDIATE transaction (system
check W001) is what keeps two workers from claiming the same row there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.db.models import F, Q, QuerySet

from django_onestep.model_sources.row_keys import RowKeys

__all__ = ["RETRY_TOKEN", "ClaimSql"]

RETRY_TOKEN = "retry"  # a row retried without ``nack`` stays in its claim state; the sweep takes it back


class ClaimSql:
    def __init__(
        self,
        model: Any,
        using: str,
        keys: RowKeys,
        *,
        where: Q,
        claim: Mapping[str, Any],
        ack: Mapping[str, Any],
        nack: Mapping[str, Any],
        fail: Mapping[str, Any],
    ) -> None:
        self.model, self.using, self.keys = model, using, keys
        self.label = model._meta.label_lower
        self.where, self.claim, self.ack, self.nack, self.fail = (
            where,
            dict(claim),
            dict(ack),
            dict(nack),
            dict(fail),
        )

    def _rows(self) -> QuerySet[Any]:
        rows: QuerySet[Any] = self.model._default_manager.using(self.using).all()
        return rows

    def _claims(self) -> QuerySet[Any]:
        from django_onestep.models import RowClaim

        return RowClaim.objects.using(self.using).filter(table=self.label)

    def _locked(self, rows: QuerySet[Any]) -> QuerySet[Any]:
        # Read on the database thread: MySQL's answer needs the server version.
        from django.db import connections

        if connections[self.using].features.has_select_for_update_skip_locked:
            return rows.select_for_update(skip_locked=True)
        return rows

    def claim_batch(
        self, limit: int, token: str, lease_s: float, *, expired: bool
    ) -> list[tuple[Any, str, dict[str, Any], int]]:
        """``(pk, row_key, row, attempts)`` of up to ``limit`` claimed rows, expired leases first."""
        from django.db import transaction
        from django.utils import timezone

        from django_onestep.models import RowClaim

        now = timezone.now()
        with transaction.atomic(using=self.using):
            pairs = self._expired(limit, now) if expired else []
            if len(pairs) < limit:
                live = self._claims().filter(leased_until__gt=now).annotate(_pk=self.keys.column())
                fresh_rows = self._locked(self._rows().filter(self.where).exclude(pk__in=live.values("_pk")))
                fresh = [
                    (pk, self.keys.text(pk))
                    for pk in fresh_rows.order_by("pk").values_list("pk", flat=True)[: limit - len(pairs)]
                ]
                if fresh:
                    self.model._default_manager.using(self.using).filter(
                        pk__in=[pk for pk, _ in fresh]
                    ).update(**self.claim)
                pairs += fresh
            if not pairs:
                return []
            keys = [key for _, key in pairs]
            lease_end = now + timedelta(seconds=lease_s)
            claims = self._claims().filter(row_key__in=keys)
            known = set(claims.values_list("row_key", flat=True))
            claims.update(token=token, leased_until=lease_end, attempts=F("attempts") + 1)
            RowClaim.objects.using(self.using).bulk_create(
                [
                    RowClaim(table=self.label, row_key=k, token=token, leased_until=lease_end, attempts=1)
                    for k in keys
                    if k not in known
                ]
            )
            attempts = dict(self._claims().filter(row_key__in=keys).values_list("row_key", "attempts"))
            pk_name = self.model._meta.pk.attname
            key_of = dict(pairs)
            rows = (
                self.model._default_manager.using(self.using)
                .filter(pk__in=list(key_of))
                .order_by("pk")
                .values()
            )
            return [
                (row[pk_name], key_of[row[pk_name]], dict(row), int(attempts[key_of[row[pk_name]]]))
                for row in rows
            ]

    def _expired(self, limit: int, now: Any) -> list[tuple[Any, str]]:
        stale_claims = (
            self._claims().filter(token__isnull=False, leased_until__lt=now).order_by("leased_until")
        )
        stale = list(self._locked(stale_claims).values_list("row_key", flat=True)[:limit])
        if not stale:
            return []
        # Read without locks first: a row being settled right now is not one that left its claim state.
        pks = [self.keys.pk(key) for key in stale]
        in_state = set(self._rows().filter(pk__in=pks, **self.claim).values_list("pk", flat=True))
        gone = [key for key in stale if self.keys.pk(key) not in in_state]
        if gone:
            self._claims().filter(row_key__in=gone).update(token=None)
        locked = self._locked(self._rows().filter(pk__in=list(in_state), **self.claim))
        return [(pk, self.keys.text(pk)) for pk in locked.values_list("pk", flat=True)]

    def _owned(self, rows: Sequence[tuple[Any, str, str]]) -> list[tuple[Any, str]]:
        """The (pk, row_key) of ``rows`` ((pk, row_key, token)) whose claim still has the token; locked."""
        tokens = {key: token for _, key, token in rows}
        held = self._claims().filter(row_key__in=list(tokens)).select_for_update()
        owned = {key for key, token in held.values_list("row_key", "token") if tokens.get(key) == token}
        return [(pk, key) for pk, key, _ in rows if key in owned]

    def ack_rows(self, rows: Sequence[tuple[Any, str, str]], values: Mapping[str, Any] | None = None) -> int:
        from django.db import transaction

        with transaction.atomic(using=self.using):
            owned = self._owned(rows)
            if owned:
                manager = self.model._default_manager.using(self.using).filter(pk__in=[pk for pk, _ in owned])
                for mapping in (values or {}, self.ack):
                    if mapping:
                        manager.update(**mapping)
                self._claims().filter(row_key__in=[key for _, key in owned]).delete()
            return len(owned)

    def retry_row(self, pk: Any, key: str, token: str, delay_s: float, *, count: bool) -> bool:
        from django.db import transaction
        from django.utils import timezone

        with transaction.atomic(using=self.using):
            if not self._owned([(pk, key, token)]):
                return False
            if self.nack:
                self.model._default_manager.using(self.using).filter(pk=pk).update(**self.nack)
            self._claims().filter(row_key=key).update(
                token=None if self.nack else RETRY_TOKEN,
                leased_until=timezone.now() + timedelta(seconds=delay_s),
                attempts=F("attempts") - (0 if count else 1),
            )
            return True

    def fail_row(self, pk: Any, key: str, token: str) -> bool:
        from django.db import transaction

        with transaction.atomic(using=self.using):
            if not self._owned([(pk, key, token)]):
                return False
            if self.fail:
                self.model._default_manager.using(self.using).filter(pk=pk).update(**self.fail)
            self._claims().filter(row_key=key).delete()
            return True

    def update_row(self, pk: Any, key: str, token: str, values: Mapping[str, Any]) -> bool:
        from django.db import transaction

        with transaction.atomic(using=self.using):
            if not self._owned([(pk, key, token)]):
                return False
            self.model._default_manager.using(self.using).filter(pk=pk).update(**values)
            return True

    def extend_leases(self, tokens: Sequence[str], lease_s: float) -> None:
        from django.utils import timezone

        if tokens:
            self._claims().filter(token__in=list(tokens)).update(
                leased_until=timezone.now() + timedelta(seconds=lease_s)
            )
