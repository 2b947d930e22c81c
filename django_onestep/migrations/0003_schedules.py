import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_onestep", "0002_webhooks"),
    ]

    operations = [
        migrations.CreateModel(
            name="Schedule",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=200, unique=True)),
                (
                    "origin",
                    models.CharField(
                        choices=[("code", "Code"), ("admin", "Admin")], default="code", max_length=10
                    ),
                ),
                (
                    "expression",
                    models.CharField(
                        blank=True, default="", help_text="cron, e.g. 30 2 * * *", max_length=100
                    ),
                ),
                ("interval_s", models.FloatField(blank=True, help_text="or: every N seconds", null=True)),
                ("payload", models.JSONField(blank=True, null=True)),
                ("start_at", models.DateTimeField(blank=True, null=True)),
                ("end_at", models.DateTimeField(blank=True, null=True)),
                ("app", models.CharField(max_length=100)),
                ("task", models.CharField(max_length=200)),
                ("definition", models.CharField(blank=True, default="", max_length=255)),
                ("timezone", models.CharField(blank=True, default="", max_length=64)),
                ("paused", models.BooleanField(default=False)),
                ("last_fire_at", models.DateTimeField(blank=True, null=True)),
                ("next_fire_at", models.DateTimeField(blank=True, null=True)),
                ("last_outcome", models.CharField(blank=True, default="", max_length=20)),
                ("last_outcome_at", models.DateTimeField(blank=True, null=True)),
                ("running_owner", models.CharField(blank=True, default="", max_length=120)),
                ("running_until", models.DateTimeField(blank=True, null=True)),
                (
                    "run_requested_at",
                    models.DateTimeField(
                        blank=True,
                        help_text="one extra run at this time (alone: a one-off schedule)",
                        null=True,
                        verbose_name="run at",
                    ),
                ),
                ("updated_at", models.DateTimeField()),
            ],
            options={
                "db_table": "django_onestep_schedule",
                "ordering": ["key"],
            },
        ),
        migrations.CreateModel(
            name="ScheduleFire",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("fire_at", models.DateTimeField()),
                ("worker", models.CharField(max_length=120)),
                ("claimed_at", models.DateTimeField()),
                (
                    "schedule",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="fires",
                        to="django_onestep.schedule",
                    ),
                ),
            ],
            options={
                "db_table": "django_onestep_schedulefire",
                "ordering": ["-fire_at"],
                "constraints": [
                    models.UniqueConstraint(fields=("schedule", "fire_at"), name="onestep_schedule_fire_once")
                ],
            },
        ),
    ]
