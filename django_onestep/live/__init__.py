"""Live updates over Django Channels: a task's output to a group, one job's progress and
result to a browser, and the admin dashboard refreshed when workers report.

Channels is optional (the ``channels`` extra): nothing here imports it until used, and
without a configured ``CHANNEL_LAYERS`` publishing is a no-op. docs/channels.md is the
user guide.
"""
