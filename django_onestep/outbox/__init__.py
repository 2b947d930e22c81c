"""Enqueueing to broker queues from Django code: at once, on commit, or through an outbox.

``enqueue_modes`` decides where a sync ``queue.send(payload)`` goes (installed as the
connectors' enqueue hook when the app is ready); ``relay`` publishes outbox rows with
the broker's confirms; ``relay_thread`` runs it beside a worker; ``outbox_stats``
measures the lag for the admin and the metrics.
"""
