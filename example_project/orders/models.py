from __future__ import annotations

from django.db import models


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSED = "processed"

    customer = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    express = models.BooleanField(default=False, help_text="Express orders also book a courier.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"order #{self.pk} ({self.customer}, {self.amount})"

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.pk,
            "customer": self.customer,
            "amount": str(self.amount),
            "express": self.express,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "processed_at": self.processed_at.isoformat() if self.processed_at else None,
        }
