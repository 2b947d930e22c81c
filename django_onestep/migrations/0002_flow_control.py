from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_onestep", "0010_workflows"),
    ]

    operations = [
        migrations.CreateModel(
            name="RateWindow",
            fields=[
                ("queue", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("claims", models.TextField(default="[]")),
            ],
            options={
                "verbose_name": "rate window",
                "db_table": "django_onestep_ratewindow",
            },
        ),
    ]
