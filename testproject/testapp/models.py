from __future__ import annotations

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
