"""Tables of the ``django_onestep`` app: the job queue, dead letters, state, metrics.

Index notes (checked against the real schema in tests/django/test_models_schema.py):

* ``Job`` claim index ``(queue, status, -priority, id, available_at)`` follows the claim
  query's ``ORDER BY priority DESC, id``. It is declared with ``fields=`` (never an
  ``F().desc()`` expression: Django silently skips expression indexes on MariaDB).
* ``Job`` lease index ``(status, lease_until)`` keeps the expired-lease sweep cheap.
* ``Job`` prune index ``(status, finished_at)`` serves the retention job.
"""

from __future__ import annotations

from django.db import models

__all__ = [
    "Cursor",
    "DeadLetter",
    "Job",
    "OutboxMessage",
    "PausedTask",
    "PushDelivery",
    "PushHost",
    "RowClaim",
    "Schedule",
    "ScheduleFire",
    "StateEntry",
    "SubmissionChunk",
    "SubmissionRecord",
    "TaskMetric",
    "WebhookDelivery",
    "WorkerHeartbeat",
    "Workflow",
    "WorkflowStep",
]


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"  # by an operator, before it ran
    EXPIRED = "expired"  # its expires_at passed before a worker started it
    ABORTED = "aborted"  # cancelled while running: the handler stopped on request


class Job(models.Model):
    """One message of a ``DatabaseQueue``.

    ``attempts`` counts claims (incremented when a worker claims the row, decremented
    again when an unstarted claim is released); the delivered ``Envelope.attempts`` is
    ``attempts - 1``. ``reclaims`` counts leases that expired without a settlement
    (the worker died): ``max_deliveries`` is checked against it. ``dedupe_key`` is only
    set while the job is queued or running, so the unique constraint means "one live job
    per key" on every database (MariaDB has no partial unique indexes).
    """

    Status = JobStatus

    id = models.BigAutoField(primary_key=True)
    queue = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    priority = models.IntegerField(default=0)
    payload = models.JSONField(null=True)
    meta = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    reclaims = models.PositiveIntegerField(default=0)
    available_at = models.DateTimeField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    first_failed_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=120, null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, null=True, blank=True)
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # results, progress, cancel and expiry (django_onestep/results/)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)  # {"type", "message", "traceback"} of the last failure
    progress = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    abort_requested_at = models.DateTimeField(null=True, blank=True)
    # per-key concurrency (dbqueue/concurrency_keys.py): computed from the payload at enqueue
    concurrency_key = models.CharField(max_length=200, null=True, blank=True)

    class Meta:
        db_table = "django_onestep_job"
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["queue", "status", "-priority", "id", "available_at"], name="onestep_job_claim"
            ),
            models.Index(fields=["status", "lease_until"], name="onestep_job_lease"),
            models.Index(fields=["status", "finished_at"], name="onestep_job_prune"),
            models.Index(fields=["queue", "concurrency_key", "status"], name="onestep_job_key"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["queue", "dedupe_key"], name="onestep_job_dedupe"),
        ]

    def __str__(self) -> str:
        return f"{self.queue}#{self.id} ({self.status})"


class DeadLetterStatus(models.TextChoices):
    PENDING = "pending"
    CLAIMED = "claimed"  # fetched by a replay/discard in progress
    RESOLVED = "resolved"  # replayed or discarded


class DeadLetterResolution(models.TextChoices):
    REPLAYED = "replayed"
    DISCARDED = "discarded"


class DeadLetter(models.Model):
    """A terminal failure, written once, kept until replayed or discarded."""

    Status = DeadLetterStatus
    Resolution = DeadLetterResolution

    id = models.BigAutoField(primary_key=True)
    app = models.CharField(max_length=100, blank=True, default="")
    task = models.CharField(max_length=200)
    source = models.CharField(max_length=200, blank=True, default="")
    payload = models.JSONField(null=True)
    original_meta = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    failure_kind = models.CharField(max_length=20, blank=True, default="")
    exception_type = models.CharField(max_length=200, blank=True, default="")
    message = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    job_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=DeadLetterStatus.choices, default=DeadLetterStatus.PENDING
    )
    claim_token = models.CharField(max_length=32, null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # who resolved it and how; empty when resolved by code (app.replay_task_dead_letters)
    resolved_by = models.CharField(max_length=150, blank=True, default="")
    resolution = models.CharField(max_length=10, choices=DeadLetterResolution.choices, blank=True, default="")
    replay_job_id = models.BigIntegerField(null=True, blank=True)  # the job a replay enqueued
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()

    class Meta:
        db_table = "django_onestep_deadletter"
        ordering = ["-id"]
        permissions = [("replay_deadletter", "Can replay dead letters")]
        indexes = [
            models.Index(fields=["task", "status", "id"], name="onestep_dl_task"),
            models.Index(fields=["status", "id"], name="onestep_dl_status"),
            models.Index(fields=["last_failed_at"], name="onestep_dl_last_failed"),
        ]

    def __str__(self) -> str:
        return f"{self.task}: {self.exception_type or self.failure_kind} (#{self.id})"


class _StoredValue(models.Model):
    """A key and its value in the lossless JSON codec (the stores' shared row shape)."""

    key = models.CharField(max_length=255, unique=True)
    value_json = models.TextField()
    version = models.PositiveBigIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class StateEntry(_StoredValue):
    """A ``DatabaseStateStore`` value; ``value_json`` uses the lossless codec."""

    class Meta(_StoredValue.Meta):
        db_table = "django_onestep_stateentry"
        verbose_name_plural = "state entries"


class Cursor(_StoredValue):
    """A ``DatabaseCursorStore`` value (incremental sources' positions)."""

    class Meta(_StoredValue.Meta):
        db_table = "django_onestep_cursor"


class TaskMetric(models.Model):
    """Per app, task and minute window: counts by event kind, failures, durations.

    Several workers add into the same row (read-modify-write under a row lock), each
    once per flush interval, never per event.
    """

    app = models.CharField(max_length=100)
    task = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    fetched = models.PositiveBigIntegerField(default=0)
    started = models.PositiveBigIntegerField(default=0)
    succeeded = models.PositiveBigIntegerField(default=0)
    retried = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)
    dead_lettered = models.PositiveBigIntegerField(default=0)
    cancelled = models.PositiveBigIntegerField(default=0)
    failures = models.JSONField(default=dict, blank=True)  # failure kind -> count
    duration_count = models.PositiveBigIntegerField(default=0)
    duration_sum_s = models.FloatField(default=0.0)
    duration_max_s = models.FloatField(default=0.0)
    histogram = models.JSONField(default=list, blank=True)  # counts per DURATION_BUCKETS_S
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "django_onestep_taskmetric"
        ordering = ["-window_start", "task"]
        constraints = [
            models.UniqueConstraint(fields=["app", "task", "window_start"], name="onestep_metric_window"),
        ]
        indexes = [
            models.Index(fields=["window_start", "task"], name="onestep_metric_time"),
            models.Index(fields=["task", "window_start"], name="onestep_metric_task"),
        ]

    def __str__(self) -> str:
        return f"{self.task} @ {self.window_start:%Y-%m-%d %H:%M}"


class WorkerRequest(models.TextChoices):
    DRAIN = "drain"  # take no new work, exit once the work in hand is done
    STOP = "stop"  # shut down now, as on SIGTERM


class WorkerHeartbeat(models.Model):
    """One row per worker process, upserted every ``WORKER_HEARTBEAT_S``."""

    Request = WorkerRequest

    worker_id = models.CharField(max_length=120, unique=True)
    app = models.CharField(max_length=100, blank=True, default="")
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    tasks = models.JSONField(default=list, blank=True)
    version = models.CharField(max_length=40, blank=True, default="")
    status = models.CharField(max_length=20, default="running")
    in_flight = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()
    # set by an operator ("drain" or "stop"), read by the worker at each heartbeat
    requested = models.CharField(max_length=10, choices=WorkerRequest.choices, blank=True, default="")

    class Meta:
        db_table = "django_onestep_workerheartbeat"
        ordering = ["-last_seen"]
        indexes = [models.Index(fields=["last_seen"], name="onestep_worker_seen")]

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.status})"


class WebhookDelivery(models.Model):
    """A sender's delivery id accepted by a webhook inbox (``WebhookSource(delivery_id=...)``).

    Written in the same transaction as the inbox job; the unique constraint makes a
    repeated delivery a no-op in every web process for as long as the row lives (it
    is pruned with the inbox's ``done`` jobs, after ``DONE_JOB_RETENTION_S``).
    """

    id = models.BigAutoField(primary_key=True)
    inbox = models.CharField(max_length=100)
    delivery_id = models.CharField(max_length=200)
    job_id = models.BigIntegerField()
    received_at = models.DateTimeField()

    class Meta:
        db_table = "django_onestep_webhookdelivery"
        ordering = ["-id"]
        indexes = [models.Index(fields=["inbox", "received_at"], name="onestep_webhook_received")]
        constraints = [
            models.UniqueConstraint(fields=["inbox", "delivery_id"], name="onestep_webhook_delivery"),
        ]

    def __str__(self) -> str:
        return f"{self.inbox}:{self.delivery_id}"


class ScheduleOrigin(models.TextChoices):
    CODE = "code"
    ADMIN = "admin"


class Schedule(models.Model):
    """The shared state of one schedule, and the rule of one defined in the admin.

    A code-defined schedule (a task with an interval or cron source) has the key
    ``"<app>:<task>"``. ``definition`` is the rule the row was last reset for
    (``"interval 60s UTC"``): a worker that finds another one starts the schedule
    afresh instead of resuming a fire time computed from the old rule.

    An admin-defined schedule (``origin="admin"``) enqueues ``payload`` on ``task``'s
    queue by ``expression`` (cron) or ``interval_s``, between ``start_at`` and
    ``end_at``; ``run_requested_at`` alone makes it a one-off.
    """

    Origin = ScheduleOrigin

    key = models.CharField(max_length=200, unique=True)
    origin = models.CharField(max_length=10, choices=ScheduleOrigin.choices, default=ScheduleOrigin.CODE)
    expression = models.CharField(max_length=100, blank=True, default="", help_text="cron, e.g. 30 2 * * *")
    interval_s = models.FloatField(null=True, blank=True, help_text="or: every N seconds")
    payload = models.JSONField(null=True, blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    app = models.CharField(max_length=100)
    task = models.CharField(max_length=200)
    definition = models.CharField(max_length=255, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    paused = models.BooleanField(default=False)
    last_fire_at = models.DateTimeField(null=True, blank=True)
    next_fire_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=20, blank=True, default="")
    last_outcome_at = models.DateTimeField(null=True, blank=True)
    # overlap "skip"/"queue": the worker whose run is in flight, until its lease lapses
    running_owner = models.CharField(max_length=120, blank=True, default="")
    running_until = models.DateTimeField(null=True, blank=True)
    # "run now" (or a one-off at this time): one extra run, fired once by a worker
    run_requested_at = models.DateTimeField(
        "run at", null=True, blank=True, help_text="one extra run at this time (alone: a one-off schedule)"
    )
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "django_onestep_schedule"
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class ScheduleFire(models.Model):
    """One claimed tick: the unique ``(schedule, fire_at)`` makes it fire once anywhere."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="fires")
    fire_at = models.DateTimeField()
    worker = models.CharField(max_length=120)
    claimed_at = models.DateTimeField()

    class Meta:
        db_table = "django_onestep_schedulefire"
        ordering = ["-fire_at"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "fire_at"], name="onestep_schedule_fire_once"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id} @ {self.fire_at.isoformat()}"


class RowClaim(models.Model):
    """A row of a user's model claimed by a ``ModelQueue``: lease, fencing token, attempts.

    ``row_key`` is the row's primary key as the database casts it to text. Rows retried
    without ``nack`` keep the token ``"retry"``, so the expired-lease sweep takes them
    back after their delay.
    """

    table = models.CharField(max_length=128)
    row_key = models.CharField(max_length=191)
    token = models.CharField(max_length=40, null=True, blank=True)
    leased_until = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "django_onestep_rowclaim"
        constraints = [models.UniqueConstraint(fields=["table", "row_key"], name="onestep_rowclaim_row")]
        indexes = [models.Index(fields=["table", "leased_until"], name="onestep_rowclaim_lease")]

    def __str__(self) -> str:
        return f"{self.table}:{self.row_key}"


class PausedTask(models.Model):
    """A task paused from the admin: every worker of ``app`` running it stops fetching for it.

    Workers read these rows with each heartbeat; deleting the row resumes the task.
    """

    app = models.CharField(max_length=100)
    task = models.CharField(max_length=200)
    paused_by = models.CharField(max_length=150, blank=True, default="")
    paused_at = models.DateTimeField()

    class Meta:
        db_table = "django_onestep_pausedtask"
        ordering = ["app", "task"]
        verbose_name = "task"  # its admin page is the task catalogue
        verbose_name_plural = "tasks"
        constraints = [models.UniqueConstraint(fields=["app", "task"], name="onestep_paused_task")]

    def __str__(self) -> str:
        return f"{self.app}.{self.task} (paused)"


class OutboxMessage(models.Model):
    """A broker message written in the caller's transaction, waiting for the relay.

    ``envelope`` is the exact JSON the broker will carry (its ``meta`` holds
    ``message_id``); ``options`` the publish options (delay, priority, ids). The relay
    claims rows whose ``lease_until`` has passed (a new row's is its creation time),
    publishes them with the broker's confirms and deletes them only then.
    """

    id = models.BigAutoField(primary_key=True)
    target = models.CharField(max_length=300)
    message_id = models.CharField(max_length=64)
    envelope = models.TextField()
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    lease_until = models.DateTimeField()
    claim_token = models.CharField(max_length=32, null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "django_onestep_outboxmessage"
        ordering = ["id"]
        verbose_name = "outbox message"
        indexes = [
            models.Index(fields=["lease_until", "id"], name="onestep_outbox_due"),
            models.Index(fields=["created_at"], name="onestep_outbox_age"),
        ]

    def __str__(self) -> str:
        return f"{self.target} {self.message_id}"


# ----- batch submissions (django_onestep.submissions) ----------------------------------
#
# Index notes:
#
# * ``SubmissionChunk`` reservation index ``(queue, status, id)``: the oldest, newest and
#   random strategies each read one end of (or one point in) it, so reserving costs the
#   same with ten thousand or a million chunks waiting.
# * ``(submission, index)`` is unique and serves ``results()`` (chunks in input order)
#   and purging; ``(submission, status, id)`` finds a submission's oldest pending chunk
#   for the fairness strategy.
# * ``(status, reserved_until)`` keeps the expired-reservation sweep cheap.


class SubmissionStatus(models.TextChoices):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ChunkStatus(models.TextChoices):
    PENDING = "pending"
    RESERVED = "reserved"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # its submission failed or was cancelled before it ran


class SubmissionRecord(models.Model):
    """One batch (``Submission`` is its handle): ``queue`` is the ``SubmissionSource`` name."""

    Status = SubmissionStatus

    id = models.BigAutoField(primary_key=True)
    queue = models.CharField(max_length=100)
    status = models.CharField(
        max_length=10, choices=SubmissionStatus.choices, default=SubmissionStatus.RUNNING
    )
    metadata = models.JSONField(default=dict, blank=True)
    chunk_size = models.PositiveIntegerField()
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    ops_total = models.PositiveBigIntegerField(default=0)
    ops_done = models.PositiveBigIntegerField(default=0)
    max_chunk_attempts = models.PositiveIntegerField(default=10)
    collect_errors = models.BooleanField(default=False)
    failed_chunk_index = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # prefer_distinct rotates between submitters by this: the latest reservation of a chunk
    last_reserved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "django_onestep_submission"
        verbose_name = "submission"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["queue", "status"], name="onestep_submission_open"),
            models.Index(fields=["status", "finished_at"], name="onestep_submission_purge"),
        ]

    def __str__(self) -> str:
        return f"{self.queue}#{self.pk}"


class SubmissionChunk(models.Model):
    """Up to ``chunk_size`` operations and, once done, their results in the same order.

    ``attempts`` counts reservations (an expired one included). ``token`` fences every
    write of the worker holding the chunk: a completion after the reservation expired,
    was taken again or was skipped by a cancel changes nothing. ``payload_file`` names
    the storage file of a payload too large for the row (``payload`` is then null).
    """

    Status = ChunkStatus

    id = models.BigAutoField(primary_key=True)
    submission = models.ForeignKey(SubmissionRecord, on_delete=models.CASCADE, related_name="chunks")
    queue = models.CharField(max_length=100)
    index = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=ChunkStatus.choices, default=ChunkStatus.PENDING)
    ops = models.PositiveIntegerField()
    payload = models.JSONField(null=True, blank=True)
    payload_file = models.CharField(max_length=255, blank=True, default="")
    results = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    token = models.CharField(max_length=32, null=True, blank=True)
    reserved_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "django_onestep_submissionchunk"
        ordering = ["submission_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "index"], name="onestep_chunk_index"),
        ]
        indexes = [
            models.Index(fields=["queue", "status", "id"], name="onestep_chunk_reserve"),
            models.Index(fields=["submission", "status", "id"], name="onestep_chunk_fair"),
            models.Index(fields=["status", "reserved_until"], name="onestep_chunk_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.submission_id}[{self.index}]"


class PushState(models.TextChoices):
    IN_FLIGHT = "in_flight"  # waiting for its first or next attempt
    SUCCEEDED = "succeeded"
    DEAD = "dead"


class PushDelivery(models.Model):
    """One ``push(url, payload)``: written with its queue job, in the caller's transaction.

    ``id`` is the stable ``X-Onestep-Delivery-Id`` of every attempt. ``signing`` names an
    entry of ``ONESTEP["PUSH_SECRETS"]``: the secret itself is never stored.
    """

    State = PushState

    id = models.UUIDField(primary_key=True)
    url = models.TextField()
    host = models.CharField(max_length=255)
    method = models.CharField(max_length=10, default="POST")
    headers = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(null=True)
    signing = models.CharField(max_length=100, blank=True, default="")
    timeout_s = models.FloatField(default=10.0)
    max_attempts = models.PositiveIntegerField(default=10)
    backoff = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=PushState.choices, default=PushState.IN_FLIGHT)
    attempts = models.PositiveIntegerField(default=0)
    last_status = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "django_onestep_pushdelivery"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "created_at"], name="onestep_push_state"),
            models.Index(fields=["host", "state"], name="onestep_push_host"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.method} {self.host} ({self.state})"


class PushHost(models.Model):
    """A push target host an operator paused (``onestep_deliveries pause HOST``)."""

    host = models.CharField(max_length=255, primary_key=True)
    paused = models.BooleanField(default=False)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "django_onestep_pushhost"

    def __str__(self) -> str:
        return f"{self.host} ({'paused' if self.paused else 'active'})"


class WorkflowStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Workflow(models.Model):
    """A chain, group or chord (``django_onestep/workflows/``): stages of steps run in order.

    ``stage`` is the stage whose steps are queued now; it only moves in the transaction
    that settles the stage's last step, under a row lock on this row.
    """

    Status = WorkflowStatus

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=10)  # chain | group | chord
    status = models.CharField(max_length=10, choices=WorkflowStatus.choices, default=WorkflowStatus.RUNNING)
    stage = models.PositiveIntegerField(default=0)
    stages = models.PositiveIntegerField()
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")  # why it failed, for the admin
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "django_onestep_workflow"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.status})"


class WorkflowStepStatus(models.TextChoices):
    PENDING = "pending"  # its stage has not started
    QUEUED = "queued"  # its job is queued or running
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WorkflowStep(models.Model):
    """One call of a workflow: a stage's member, or an error callback (``role='errback'``).

    ``call`` is what to enqueue: the queue's payload shape, arguments and send options;
    the previous stage's result is added when the stage starts.
    """

    Status = WorkflowStepStatus

    id = models.BigAutoField(primary_key=True)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    role = models.CharField(max_length=10, default="step")  # step | errback
    stage = models.PositiveIntegerField()
    index = models.PositiveIntegerField()  # order within the stage: a chord's results keep it
    in_group = models.BooleanField(default=False)  # the stage's result is a list
    task = models.CharField(max_length=200)
    queue = models.CharField(max_length=100)
    call = models.JSONField()
    status = models.CharField(
        max_length=10, choices=WorkflowStepStatus.choices, default=WorkflowStepStatus.PENDING
    )
    job_id = models.BigIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "django_onestep_workflowstep"
        ordering = ["workflow", "-role", "stage", "index"]  # steps, then error callbacks
        indexes = [models.Index(fields=["job_id"], name="onestep_workflowstep_job")]

    def __str__(self) -> str:
        return f"{self.task} (stage {self.stage}.{self.index}, {self.status})"


class QueueFlow(models.Model):
    """One row per ``DatabaseQueue`` with flow control (``dbqueue/flow_claims.py``): its
    lock serialises that queue's claims, and ``claims`` is the rate limit's window,
    ``[[epoch_s, count], ...]`` for the claims inside it."""

    queue = models.CharField(max_length=100, primary_key=True)
    claims = models.TextField(default="[]")

    class Meta:
        db_table = "django_onestep_queueflow"
        verbose_name = "queue flow"

    def __str__(self) -> str:
        return self.queue
