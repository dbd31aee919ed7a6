"""What every kind of background job shares: the columns of a claimed run and the claim.

A concrete job (`separation.SeparationJob`, `practice.Render`) adds its own `status`
field, whose `Status` choices have at least QUEUED, RUNNING, DONE and FAILED (the labels
are its own), and whatever else it needs; its kind is registered in `jobs.kinds`. Its state
changes are `jobs.state` functions, made through `jobs.services` and run by `jobs.runner`.
"""

from django.db import models
from django.utils import timezone

# The status values every job kind has; each names them in its own `Status` choices.
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


class JobQuerySet(models.QuerySet):
    def claimed(self, *, pk: int, worker_id: str) -> "JobQuerySet":
        """The job, only while it is running under this worker's claim: every write a
        worker makes goes through this, so a worker that lost its claim changes nothing."""
        return self.filter(pk=pk, status=RUNNING, claimed_by=worker_id)

    def active(self) -> "JobQuerySet":
        """Queued or running: on its way."""
        return self.filter(status__in=(QUEUED, RUNNING))


class Job(models.Model):
    """A job row is the single source of truth for its state. Workers claim it with a
    conditional update on `status`; `claimed_by` and `heartbeat_at` let recovery find jobs
    left `running` by a worker that died. Every write sets `updated_at` so the notification
    relay can find changed rows."""

    progress = models.PositiveSmallIntegerField(default=0)
    # What a running job is doing now: one of its kind's phases (`jobs.kinds`); "" otherwise.
    phase = models.CharField(max_length=16, blank=True)
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Scale-out mode: when the job was last sent to the broker (None: never, e.g. the broker
    # was down). The sweep sends a queued job again once this is old enough.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in (QUEUED, RUNNING)


class WorkerBeat(models.Model):
    """A worker process that is alive, as far as we know: each worker (embedded or Celery,
    by its name) writes its row when it starts and at every sweep, and deletes it when it
    stops; a row whose beat is old is a worker that died (the sweep deletes it after a
    while). `/metrics` counts the live ones per queue. The rows say who is there; which jobs
    they run is still only in the job rows."""

    name = models.CharField(max_length=200, unique=True)  # celery@host, or host:pid:token
    queues = models.CharField(max_length=500)  # the queues it takes jobs from, comma-separated
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.name

    @property
    def queue_names(self) -> list[str]:
        return [queue for queue in self.queues.split(",") if queue]
