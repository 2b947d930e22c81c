"""``onestep_worker TARGET`` apps with nothing to run."""

from django_onestep import OneStepApp

sourceless = OneStepApp("sourceless")


@sourceless.task()
def report(ctx, payload):
    """No source: runs only through ctx.emit or controls."""


empty = OneStepApp("empty")
