"""Results, status, progress, cancel and expiry of database-queue jobs.

``JobHandle`` (what ``enqueue``/``send`` return) and ``get_job``; ``waiting.py`` polls
for the end of a job, ``cancel.py`` cancels or aborts one. The queue itself writes the
result, progress and expiry (``dbqueue/settle.py``, ``dbqueue/progress.py``).
"""

from django_onestep.results.handle import JobError, JobFailed, JobHandle, JobNotFound, get_job

__all__ = ["JobError", "JobFailed", "JobHandle", "JobNotFound", "get_job"]
