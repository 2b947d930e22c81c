from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_onestep", "0010_workflows"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="concurrency_key",
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["queue", "concurrency_key", "status"], name="onestep_job_key"),
        ),
        migrations.CreateModel(
            name="QueueFlow",
            fields=[
                ("queue", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("claims", models.TextField(default="[]")),
            ],
            options={
                "verbose_name": "queue flow",
                "db_table": "django_onestep_queueflow",
            },
        ),
    ]
