from django_onestep import app

from .modles import Order  # noqa: F401  (the bug: models is misspelt)


@app.task()
def process_order(ctx, payload):
    return payload
