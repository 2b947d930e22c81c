"""The runtime: ``OneStepApp``, its tasks and the loop that runs them.

``app.py`` is the public face; ``runtime_state.py`` holds what its helpers share
(event hub, lifecycle, sync pool, resources); ``task_runner.py`` fetches from one
source and hands deliveries to ``executor.py``, which runs the handler and settles.
"""
