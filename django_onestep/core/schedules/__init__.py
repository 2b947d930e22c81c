"""Time-based sources: ``IntervalSource`` and ``CronSource`` on one ``ScheduleSource`` base."""
