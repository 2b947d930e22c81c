"""Child processes that run sync handlers: hard time limits, CPU-bound work, recycling.

A thread cannot be stopped, so a sync handler stuck in ``while True`` would keep its
slot for ever. ``@app.task(executor="process")`` runs the handler in a child process
instead; a child past its hard limit (``time_limit_s``) is killed and replaced, and the
delivery fails as a timeout under its retry policy.
"""
