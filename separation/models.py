from django.db import models
from django.utils import timezone

from jobs.models import Job


class SeparationJob(Job):
    """The life cycle of separating one track: the single source of truth for its state.

    The columns of a claimed run (progress, error, attempts, claim, heartbeat, times) and
    `objects.claimed(pk=, worker_id=)` are `jobs.models.Job`'s; its state changes are the one
    pipeline's (`jobs.services`, for the kind `separation.kind.SEPARATION`), and retry and
    cancel `separation.services.state`'s.
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
        """How the stems are made: the names are the engine's (`engine.QUALITIES`)."""

        STANDARD = "standard", "Standard"
        CLEANER = "cleaner", "Cleaner jam track (slower)"

    track = models.OneToOneField("tracks.Track", on_delete=models.CASCADE, related_name="job")
    quality = models.CharField(max_length=16, choices=Quality.choices, default=Quality.STANDARD)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    phase = models.CharField(max_length=16, choices=Phase.choices, blank=True)
    # What made the track's current stems (`engine.model_identity`), set with "done": the
    # model, its weights' sha256, the engine's version. Blank: before they were recorded.
    model_name = models.CharField(max_length=32, blank=True)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    engine_version = models.CharField(max_length=32, blank=True)
    # A re-separation (`manage.py reseparate`): it waits behind every upload, counts against
    # nobody's cap of songs in separation, and the old stems stay until it is done.
    background = models.BooleanField(default=False)
    # As the table was made: indexed for separations (Job's, as for renders, is not).
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"Separation of “{self.track.title}” ({self.get_status_display().lower()})"

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
