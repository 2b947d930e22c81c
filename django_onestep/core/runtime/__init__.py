"""The runtime: ``OneStepApp``, its tasks and the loop that runs them.

``app.py`` is the public face; ``runtime_state.py`` holds what its helpers share (task
registry, event hub, lifecycle, sync pool, opened resources) as ``app.runtime``, so no
module reaches into another's private attributes; ``serving.py`` opens, runs and closes;
``task_runner.py`` fetches from one source and hands deliveries to ``executor.py``,
which runs the handler and settles.
"""
