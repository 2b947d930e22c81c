"""HTTP endpoints for monitoring: ``health/`` (JSON) and ``metrics/`` (Prometheus text).

Both read only indexed ranges of the tables (live workers, due queued jobs, recent
dead letters, the last hour's per-minute metric windows), never a full-table count.
"""
