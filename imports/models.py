from django.db import models

from jobs.models import Job


class ImportJob(Job):
    """Fetching a song from a link (the import kind, `imports.kind.IMPORT`): its track exists
    from the start, with no file until the fetch is done; then the track's original is
    stored and its separation queued, in the transaction that marks this job done."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to fetch"
        RUNNING = "running", "Fetching"
        DONE = "done", "Fetched"
        FAILED = "failed", "Import failed"
        CANCELLED = "cancelled", "Import cancelled"

    class Phase(models.TextChoices):
        FETCHING = "fetching", "Fetching"
        STORING = "storing", "Storing the song"

    track = models.OneToOneField(
        "tracks.Track", on_delete=models.CASCADE, related_name="import_job"
    )
    url = models.URLField(max_length=2000)
    # The separation's quality, for the job queued once the song is here.
    quality = models.CharField(max_length=16, default="standard")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    phase = models.CharField(max_length=16, choices=Phase.choices, blank=True)

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"Import of “{self.track.title}” ({self.get_status_display().lower()})"

    @property
    def can_retry(self) -> bool:
        return self.status in (self.Status.FAILED, self.Status.CANCELLED)

    @property
    def can_cancel(self) -> bool:
        return self.is_active

    @property
    def status_label(self) -> str:
        """ "Fetching 42%", "Storing the song 95%", or the status's label."""
        if self.status != self.Status.RUNNING:
            return self.Status(self.status).label
        label = self.Phase(self.phase).label if self.phase else self.Status.RUNNING.label
        return f"{label} {self.progress}%"
