"""A target module with a bug at import time."""

raise NameError("name 'undefined_queue' is not defined")
