"""The ``Schedule`` and ``ScheduleFire`` statements of one schedule, run on a database thread.

Each method is one short transaction (or one statement); ``DatabaseScheduleCoordinator``
calls them from the event loop through its ``DBThread``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_onestep.core.schedules.schedule import ScheduleSource

__all__ = ["CLAIM_RETENTION", "RUN_LEASE_S", "ScheduleRows"]

# Claims older than this behind the last fire are pruned, and such a tick is never
# claimed again: a worker that wakes from a day-long stall cannot re-fire it.
CLAIM_RETENTION = timedelta(days=1)
# overlap "skip"/"queue": a run holds the schedule for this long, renewed while it runs,
# so a killed worker blocks the schedule for at most this long (leader-only schedules
# hold the same lease between runs too, for ONESTEP["LEASE_S"])
RUN_LEASE_S = 30.0


class ScheduleRows:
    """The rows of schedule ``key``, as seen by ``worker``."""

    def __init__(
        self, *, key: str, app: str, task: str, using: str, worker: str, lease_s: float = RUN_LEASE_S
    ) -> None:
        self.key = key
        self.app = app
        self.task = task
        self.using = using
        self.worker = worker
        self.lease_s = lease_s

    def restore(self, definition: str, source: ScheduleSource, first: datetime) -> datetime | None:
        """The persisted next fire; None (and ``first`` stored) for a new or changed rule."""
        from django.db import transaction
        from django.utils import timezone

        from django_onestep.models import Schedule

        with transaction.atomic(using=self.using):
            row, created = (
                Schedule.objects.using(self.using)
                .select_for_update()
                .get_or_create(
                    key=self.key,
                    defaults={
                        "app": self.app,
                        "task": self.task,
                        "definition": definition,
                        "timezone": source.timezone_name,
                        "next_fire_at": first,
                        "updated_at": timezone.now(),
                    },
                )
            )
            if created:
                return None
            if row.definition != definition or row.next_fire_at is None:
                row.definition, row.timezone, row.next_fire_at = definition, source.timezone_name, first
                row.updated_at = timezone.now()
                row.save(update_fields=["definition", "timezone", "next_fire_at", "updated_at"])
                return None
            return row.next_fire_at

    def claim(self, scheduled_at: datetime, hold_run: bool) -> bool:
        from django.db import IntegrityError, transaction
        from django.db.models import Q
        from django.utils import timezone

        from django_onestep.models import Schedule, ScheduleFire

        rows = Schedule.objects.using(self.using).filter(key=self.key)
        row = rows.values("id", "paused", "last_fire_at").first()
        if row is None or row["paused"]:
            return False
        if row["last_fire_at"] is not None and scheduled_at < row["last_fire_at"] - CLAIM_RETENTION:
            return False
        now = timezone.now()
        try:
            with transaction.atomic(using=self.using):
                if hold_run:
                    # the lease and the tick are taken together, or neither is
                    free = (
                        Q(running_until__isnull=True)
                        | Q(running_until__lt=now)
                        | Q(running_owner=self.worker)
                    )
                    taken = rows.filter(free).update(
                        running_owner=self.worker, running_until=now + timedelta(seconds=self.lease_s)
                    )
                    if not taken:
                        return False  # a run is in flight on another worker
                ScheduleFire.objects.using(self.using).create(
                    schedule_id=row["id"], fire_at=scheduled_at, worker=self.worker, claimed_at=now
                )
        except IntegrityError:
            return False  # another worker fired this tick
        return True

    def requested(self) -> datetime | None:
        from django.utils import timezone

        from django_onestep.models import Schedule

        requested: datetime | None = (
            Schedule.objects.using(self.using)
            .filter(key=self.key, run_requested_at__lte=timezone.now())
            .values_list("run_requested_at", flat=True)
            .first()
        )
        return requested

    def claim_requested(self, requested_at: datetime) -> bool:
        """A "run now": runs even when paused; the request is cleared with the claim."""
        from django.db import IntegrityError, transaction
        from django.utils import timezone

        from django_onestep.models import Schedule, ScheduleFire

        try:
            with transaction.atomic(using=self.using):
                rows = Schedule.objects.using(self.using).filter(key=self.key, run_requested_at=requested_at)
                schedule_id = rows.values_list("id", flat=True).first()
                if schedule_id is None or not rows.update(run_requested_at=None):
                    return False  # another worker took it
                ScheduleFire.objects.using(self.using).create(
                    schedule_id=schedule_id,
                    fire_at=requested_at,
                    worker=self.worker,
                    claimed_at=timezone.now(),
                )
        except IntegrityError:
            return False
        return True

    def running_elsewhere(self) -> bool:
        from django.utils import timezone

        from django_onestep.models import Schedule

        return (
            Schedule.objects.using(self.using)
            .filter(key=self.key, running_until__gte=timezone.now())
            .exclude(running_owner=self.worker)
            .exists()
        )

    def renew(self) -> bool:
        from django.utils import timezone

        from django_onestep.models import Schedule

        lease_until = timezone.now() + timedelta(seconds=self.lease_s)
        renewed: int = (
            Schedule.objects.using(self.using)
            .filter(key=self.key, running_owner=self.worker, running_until__isnull=False)
            .update(running_until=lease_until)
        )
        return renewed > 0

    def record(self, scheduled_at: datetime, next_fire_at: datetime, prune: bool) -> None:
        from django.db.models import Q
        from django.utils import timezone

        from django_onestep.models import Schedule, ScheduleFire

        rows = Schedule.objects.using(self.using).filter(key=self.key)
        # monotonic: a late writer of an older tick never moves the state back
        rows.filter(Q(last_fire_at__isnull=True) | Q(last_fire_at__lt=scheduled_at)).update(
            last_fire_at=scheduled_at, next_fire_at=next_fire_at, updated_at=timezone.now()
        )
        if prune:
            ScheduleFire.objects.using(self.using).filter(
                schedule__key=self.key, fire_at__lt=scheduled_at - CLAIM_RETENTION
            ).delete()

    def next_fire(self, next_fire_at: datetime) -> None:
        from django.utils import timezone

        from django_onestep.models import Schedule

        Schedule.objects.using(self.using).filter(key=self.key, next_fire_at__lt=next_fire_at).update(
            next_fire_at=next_fire_at, updated_at=timezone.now()
        )

    def outcome(self, outcome: str, *, keep_lease: bool = False) -> None:
        from django.utils import timezone

        from django_onestep.models import Schedule

        now = timezone.now()
        rows = Schedule.objects.using(self.using).filter(key=self.key)
        rows.update(last_outcome=outcome, last_outcome_at=now, updated_at=now)
        if not keep_lease:  # a leader keeps it between runs: it is its election
            rows.filter(running_owner=self.worker).update(running_owner="", running_until=None)

    def release(self) -> None:
        """Give the lease up now (a leader stopping), so the next tick starts elsewhere."""
        from django_onestep.models import Schedule

        Schedule.objects.using(self.using).filter(key=self.key, running_owner=self.worker).update(
            running_owner="", running_until=None
        )
