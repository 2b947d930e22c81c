"""A URLconf whose import registers one task, then fails on a bad one.

Importing it again fails earlier, on a duplicate name: only the first error is true.
"""

from .half_registered_app import app


@app.task(name="accepted")
def accepted(ctx, payload):
    return payload


@app.task(name="rejected", concurrency=0)
def rejected(ctx, payload):
    return payload


urlpatterns: list[object] = []
