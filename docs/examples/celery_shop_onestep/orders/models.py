from decimal import Decimal

from django.db import models


class Order(models.Model):
    customer = models.CharField(max_length=100)
    email = models.EmailField()
    status = models.CharField(max_length=20, default="pending")  # pending, paid, shipped
    total = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    stock_reserved = models.BooleanField(default=False)
    erp_synced = models.BooleanField(default=False)
    invoice = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=40)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)


class Cart(models.Model):
    customer = models.CharField(max_length=100)
    updated_at = models.DateTimeField()


class ExchangeRate(models.Model):
    currency = models.CharField(max_length=3, unique=True)
    rate = models.DecimalField(max_digits=12, decimal_places=6)


class SalesReport(models.Model):
    day = models.DateField(unique=True)
    orders = models.PositiveIntegerField()
    revenue = models.DecimalField(max_digits=12, decimal_places=2)


class Outage(models.Model):
    """A fake outage of an outside service: its next ``failures_left`` calls fail."""

    service = models.CharField(max_length=20, unique=True)
    failures_left = models.PositiveIntegerField()
