"""An app whose tasks.py raises a plain ValueError of its own (not a task definition error)."""
