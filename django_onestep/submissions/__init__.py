"""Batch submissions: millions of small operations submitted at once, run in chunks.

A producer streams an iterable into ``SubmissionChunk`` rows with ``submit``; workers
reserve whole chunks through a ``SubmissionSource`` (a lease that heartbeats, fenced
on a token), store each chunk's results with it, and a chunk that keeps failing fails
its submission. ``Submission`` is the producer's handle: progress, ``wait``, ordered
``results``, ``cancel``.
"""
