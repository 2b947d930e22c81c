"""Test helpers for projects that use django-onestep."""
