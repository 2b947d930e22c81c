"""An app whose view enqueues a task from its tasks.py (the usual layout)."""
