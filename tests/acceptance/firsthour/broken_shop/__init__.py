"""Like ``shop``, but its tasks.py defines a task the runtime rejects after a valid one."""
