import uuid

from django.conf import settings
from django.db import models


class Track(models.Model):
    """A song a musician uploaded, with its stems once separation is done.

    File fields hold storage names generated from the track id (tracks/<id>/...); the
    user's original file name is kept only as `original_filename` and `title`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracks"
    )
    title = models.CharField(max_length=200)
    original_filename = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    original = models.FileField(max_length=255)
    size_bytes = models.PositiveBigIntegerField(default=0)
    duration_s = models.FloatField(default=0)
    sample_rate = models.PositiveIntegerField(default=0)
    channels = models.PositiveSmallIntegerField(default=0)
    audio_format = models.CharField(max_length=16, blank=True)

    instrumental = models.FileField(max_length=255, blank=True)
    vocals = models.FileField(max_length=255, blank=True)
    waveform_original = models.FileField(max_length=255, blank=True)
    waveform_instrumental = models.FileField(max_length=255, blank=True)
    waveform_vocals = models.FileField(max_length=255, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=("owner", "-created_at"))]

    def __str__(self) -> str:
        return self.title

    @property
    def stored_names(self) -> list[str]:
        """Every storage name this track owns, for deletion."""
        fields = (
            self.original,
            self.instrumental,
            self.vocals,
            self.waveform_original,
            self.waveform_instrumental,
            self.waveform_vocals,
        )
        return [f.name for f in fields if f and f.name]

    @property
    def duration_label(self) -> str:
        seconds = round(self.duration_s)
        return f"{seconds // 60}:{seconds % 60:02d}"
