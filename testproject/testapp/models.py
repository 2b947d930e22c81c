from __future__ import annotations

import uuid

from django.db import models


class Run(models.Model):
    """One handler run, recorded by the test tasks so tests can count runs."""

    label = models.CharField(max_length=100)
    task = models.CharField(max_length=100)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task}:{self.label}"


class Order(models.Model):
    """Business data written in the same transaction as its job (outbox tests)."""

    reference = models.CharField(max_length=50, unique=True)
    processed = models.BooleanField(default=False)


class Ticket(models.Model):
    """A row with a UUID primary key (``ModelQueue`` keeps such keys as 32 hex digits)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    state = models.CharField(max_length=20, default="new")


class Voucher(models.Model):
    """A row with a text primary key."""

    code = models.CharField(max_length=40, primary_key=True)
    state = models.CharField(max_length=20, default="new")
