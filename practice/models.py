from django.conf import settings
from django.db import models

from catalog.formats import DEFAULT_FORMAT, EXPORT_FORMATS
from catalog.stems import JAM_TRACK, STEMS
from jobs.models import Job

# The source of a render that mixes the stems (any other source is one stem's name).
MIX = "mix"


class Render(Job):
    """One export of a track at one set of settings: the source of truth for making it, and
    the cache — the same track, source, balance, tempo, key and format is the same row and
    the same stored file (`asset`), whoever asks for it.

    Settings are kept as whole numbers, so equal requests compare equal: ``balance`` and
    ``tempo`` in percent (the browser's 0..1 and 0.5..1.5 rounded to 0.01), ``semitones``.
    The columns of a claimed run (its phase too) and `objects.claimed` are `jobs.models.Job`'s.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Rendering"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    class Phase(models.TextChoices):
        """What a running render is doing now (`practice.kind`)."""

        COPYING = "copying", "Copying the stems"
        RENDERING = "rendering", "Rendering"
        STORING = "storing", "Storing the export"

    # The export formats (a new one is a row there and a migration here).
    FORMAT_CHOICES = [(fmt.name, fmt.label) for fmt in EXPORT_FORMATS]

    track = models.ForeignKey("tracks.Track", on_delete=models.CASCADE, related_name="renders")
    # MIX (the jam track with the other stems at ``balance``), or one stem's name.
    source = models.CharField(max_length=32, default=MIX)
    balance = models.PositiveSmallIntegerField(default=0)  # percent of the vocals in a mix
    tempo = models.PositiveSmallIntegerField(default=100)  # percent
    semitones = models.SmallIntegerField(default=0)
    format = models.CharField(max_length=8, choices=FORMAT_CHOICES, default=DEFAULT_FORMAT)

    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    phase = models.CharField(max_length=16, choices=Phase.choices, blank=True)
    # The stored file, once done (a rendition Asset of the track, in its owner's quota).
    asset = models.OneToOneField(
        "tracks.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="render"
    )
    # Who asked for it: they hear of its progress, and it counts against their active cap.
    requesters = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("track", "source", "balance", "tempo", "semitones", "format"),
                name="one_render_per_track_and_settings",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} of “{self.track.title}” ({self.get_status_display().lower()})"

    @property
    def parts(self) -> list[str]:
        """The parts whose sound it holds, for the access rule (`Access.can_hear_all`)."""
        if self.source != MIX:
            return [self.source]
        if self.balance == 0:
            return [JAM_TRACK]
        return [JAM_TRACK, *(stem.name for stem in STEMS if stem.name != JAM_TRACK)]

    @property
    def label(self) -> str:
        """What people read: "Mix, vocals 10 %, tempo 75 %, +2 semitones, MP3"."""
        if self.source == MIX:
            words = ["Mix", f"vocals {self.balance} %" if self.balance else "no vocals"]
        else:
            words = [next((s.label for s in STEMS if s.name == self.source), self.source)]
        if self.tempo != 100:
            words.append(f"tempo {self.tempo} %")
        if self.semitones:
            words.append(f"{self.semitones:+d} semitone{'s' if abs(self.semitones) != 1 else ''}")
        words.append(self.get_format_display())
        return ", ".join(words)

    @property
    def slug(self) -> str:
        """The settings in a file name: "mix-v10-t75-k+2"."""
        head = f"mix-v{self.balance}" if self.source == MIX else self.source
        return f"{head}-t{self.tempo}-k{self.semitones:+d}"

    @property
    def status_label(self) -> str:
        label = self.Status(self.status).label
        return f"{label} {self.progress}%" if self.status == self.Status.RUNNING else label
