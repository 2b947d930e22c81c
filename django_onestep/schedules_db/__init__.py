"""Schedules in the database: each tick fires once across workers, state survives restarts."""
