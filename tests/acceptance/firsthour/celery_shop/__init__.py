"""Like ``shop``, but its tasks.py passes a Celery option (bind=True) to @app.task."""
