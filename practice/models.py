from django.conf import settings
from django.db import models

from catalog.formats import DEFAULT_FORMAT, EXPORT_FORMATS
from catalog.stems import JAM_TRACK, STEMS
from jobs.models import Job

# The source of a render that mixes the stems (any other source is one stem's name).
MIX = "mix"


def gains_key(gains: dict[str, int]) -> str:
    """A mix's per-stem gains (percent) as the row keeps them: "instrumental:100,vocals:10",
    the stems heard (gain > 0) by name, so the same mix asked for in any order, or with
    silent stems named or not, is the same text (the unique constraint compares it)."""
    return ",".join(f"{stem}:{gain}" for stem, gain in sorted(gains.items()) if gain > 0)


def gains_from_key(key: str) -> dict[str, int]:
    """``gains_key``'s text read back: {stem: percent} of the stems heard."""
    pairs = (item.split(":", 1) for item in key.split(",") if item)
    return {stem: int(gain) for stem, gain in pairs}


# The mix of the jam track alone (the default: balance 0).
JAM_ONLY = gains_key({JAM_TRACK: 100})


class Render(Job):
    """One export of a track at one set of settings: the source of truth for making it, and
    the cache — the same track, source, mix, tempo, key and format is the same row and the
    same stored file (`asset`), whoever asks for it.

    Settings are kept as whole numbers, so equal requests compare equal: a mix's per-stem
    ``gains`` and the ``tempo`` in percent (the browser's 0..1 and 0.5..1.5 rounded to 0.01),
    ``semitones``. The gains are one text (`gains_key`), so the constraint compares them on
    any database and a new stem in `catalog.stems` needs no column.
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
    # MIX (the stems at ``gains``), or one stem's name (as stored; ``gains`` is then "").
    source = models.CharField(max_length=32, default=MIX)
    # A mix's stems heard, in percent: "instrumental:100,vocals:10" (`gains_key`).
    gains = models.CharField(max_length=200, default=JAM_ONLY)
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
    # Who pays for it: the requester whose request had it made. Its file counts in their
    # storage (`Asset.charged_to`), and while it is on its way its estimated size holds room
    # there. When they withdraw and others who asked remain, the next one pays.
    charged_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("created_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("track", "source", "gains", "tempo", "semitones", "format"),
                name="one_render_per_track_and_settings",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} of “{self.track.title}” ({self.get_status_display().lower()})"

    @property
    def stem_gains(self) -> dict[str, int]:
        """{stem: percent} of every stem it sounds, registry order: a stem export is its stem
        at 100; a mix, its ``gains``."""
        heard = {self.source: 100} if self.source != MIX else gains_from_key(self.gains)
        return {stem.name: heard[stem.name] for stem in STEMS if stem.name in heard}

    @property
    def parts(self) -> list[str]:
        """The parts whose sound it holds, for the access rule (`Access.can_hear_all`)."""
        return list(self.stem_gains)

    @property
    def balance(self) -> int | None:
        """For a mix of the full jam track with every other stem at one level (all the old
        "balance" could ask for; the vocals, with two stems): that level in percent. None
        for a stem export or any other mix."""
        if self.source != MIX:
            return None
        gains = self.stem_gains
        if gains.get(JAM_TRACK) != 100:
            return None
        levels = {gains.get(stem.name, 0) for stem in STEMS if stem.name != JAM_TRACK}
        return levels.pop() if len(levels) == 1 else None

    def _mix_words(self) -> list[tuple[str, int]]:
        """(stem name, percent) as labels and slugs name them: every stem but the jam track,
        and the jam track too when it is not at 100 % — so a mix the balance makes reads as
        it always did ("vocals 10 %")."""
        gains = self.stem_gains
        return [
            (stem.name, gains.get(stem.name, 0))
            for stem in STEMS
            if stem.name != JAM_TRACK or gains.get(stem.name) != 100
        ]

    @property
    def label(self) -> str:
        """What people read: "Mix, vocals 10 %, tempo 75 %, +2 semitones, MP3"; another mix
        names each stem: "Mix, no instrumental, vocals 100 %, MP3"."""
        if self.source == MIX:
            words = ["Mix"]
            words += [
                f"{name} {gain} %" if gain else f"no {name}" for name, gain in self._mix_words()
            ]
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
        """The settings in a file name: "mix-v10-t75-k+2" (a stem by its initial and gain:
        "mix-i0-v100" is the vocals alone)."""
        if self.source == MIX:
            head = "-".join(["mix", *(f"{name[0]}{gain}" for name, gain in self._mix_words())])
        else:
            head = self.source
        return f"{head}-t{self.tempo}-k{self.semitones:+d}"

    @property
    def status_label(self) -> str:
        label = self.Status(self.status).label
        return f"{label} {self.progress}%" if self.status == self.Status.RUNNING else label
