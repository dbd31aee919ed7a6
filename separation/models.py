from django.db import models
from django.utils import timezone


class SeparationJobQuerySet(models.QuerySet):
    def claimed(self, *, job_id: int, worker_id: str) -> "SeparationJobQuerySet":
        """The job, only while it is running under this worker's claim: every write a
        worker makes goes through this, so a worker that lost its claim changes nothing."""
        return self.filter(id=job_id, status=SeparationJob.Status.RUNNING, claimed_by=worker_id)


class SeparationJob(models.Model):
    """The life cycle of separating one track: the single source of truth for its state.

    Workers claim a job with a conditional update on `status`; `claimed_by` and
    `heartbeat_at` let a starting worker find jobs left `running` by a worker that died.
    Every write sets `updated_at` so the notification relay can find changed rows.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Separating"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Phase(models.TextChoices):
        """What a running job is doing now; its label is what people read."""

        SEPARATING = "separating", "Separating"
        WAVEFORMS = "waveforms", "Drawing waveforms"
        STORING = "storing", "Storing the stems"

    class Quality(models.TextChoices):
        """How the stems are made: the names are the engine's (`separation.engine.QUALITIES`)."""

        STANDARD = "standard", "Standard"
        CLEANER = "cleaner", "Cleaner jam track (slower)"

    track = models.OneToOneField("tracks.Track", on_delete=models.CASCADE, related_name="job")
    quality = models.CharField(max_length=16, choices=Quality.choices, default=Quality.STANDARD)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    phase = models.CharField(max_length=16, choices=Phase.choices, blank=True)
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Scale-out mode: when the job was last sent to the broker (None: never, e.g. the broker
    # was down at the upload). The sweep sends a queued job again once this is old enough.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = SeparationJobQuerySet.as_manager()

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"Separation of “{self.track.title}” ({self.get_status_display().lower()})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def can_retry(self) -> bool:
        return self.status in (self.Status.FAILED, self.Status.CANCELLED)

    @property
    def can_cancel(self) -> bool:
        """Queued, or running: the worker stops at its next progress report."""
        return self.is_active

    @property
    def status_label(self) -> str:
        """What people read, on the page and in live events: "Separating 42%",
        "Drawing waveforms 80%", "Storing the stems 97%"."""
        return status_label(self.status, self.progress, self.phase)


def status_label(status: str, progress: int, phase: str = "") -> str:
    if status != SeparationJob.Status.RUNNING:
        return SeparationJob.Status(status).label
    label = SeparationJob.Phase(phase).label if phase else SeparationJob.Status.RUNNING.label
    return f"{label} {progress}%"
