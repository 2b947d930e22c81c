"""Push tasks: ``push(url, payload)`` POSTs until the endpoint answers 2xx.

A push is a ``PushDelivery`` row and a job on the ``onestep:push`` database queue,
written together in the caller's transaction; ``onestep_worker`` delivers them when
``ONESTEP["PUSH_ENABLED"]`` is true. docs/push.md is the user guide.
"""
