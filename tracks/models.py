import uuid

from django.conf import settings
from django.db import models

from catalog.shares import DEFAULT_SCOPE, share_scope_choices
from catalog.stems import JAM_TRACK, STEMS, get_stem
from engine.audio import format_label

# The part name of the uploaded mix beside the stems: in URLs and waveform names.
ORIGINAL_PART = "original"


class Track(models.Model):
    """A song a musician uploaded. Its stored files (the original, stems, waveforms, later
    renditions) are `Asset` rows; the user's file name is kept only as `original_filename`
    and `title`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracks"
    )
    title = models.CharField(max_length=200)
    original_filename = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    size_bytes = models.PositiveBigIntegerField(default=0)
    duration_s = models.FloatField(default=0)
    sample_rate = models.PositiveIntegerField(default=0)
    channels = models.PositiveSmallIntegerField(default=0)
    container = models.CharField(max_length=16, blank=True)  # "wav", "mp3", "m4a", ...
    codec = models.CharField(max_length=24, blank=True)  # "pcm_24", "mpeg_layer_iii", "aac", ...

    # Room held in the owner's quota for the stems a separation will store (an estimate made
    # at upload); recording the stems releases it. See `tracks.selectors.storage_use_for_user`.
    reserved_bytes = models.PositiveBigIntegerField(default=0)

    # Moderation: a hidden track vanishes for everyone but its owner and moderators.
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.TextField(blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=("owner", "-created_at"))]
        permissions = [
            ("moderate_track", "Can moderate tracks: listen to and download any track"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def duration_label(self) -> str:
        seconds = round(self.duration_s)
        return f"{seconds // 60}:{seconds % 60:02d}"

    @property
    def format_label(self) -> str:
        """What people read: "MP3", "FLAC", "WAV 24-bit"."""
        return format_label(self.container, self.codec) if self.container else ""

    # --- Stored files (prefetch "assets" to read them all in one query) ---------------------
    def _assets(self) -> list["Asset"]:
        # Prefetched (`get_track_or_404` does): read the prefetched rows as they are, without
        # a new queryset for every lookup (a track page makes dozens).
        prefetched = getattr(self, "_prefetched_objects_cache", {}).get("assets")
        if prefetched is not None:
            return list(prefetched)
        return list(self.assets.all())

    def asset(self, kind: str, stem: str = "") -> "Asset | None":
        """The current file of one kind: the original (stem ""), a stem, or the waveform of
        the original (stem "") or of a stem."""
        for asset in self._assets():
            if asset.kind == kind and asset.stem == stem and not asset.parameters:
                return asset
        return None

    @property
    def original(self) -> "Asset | None":
        return self.asset(Asset.Kind.ORIGINAL)

    @property
    def stored_names(self) -> list[str]:
        """Every storage name this track owns, for deletion."""
        return [asset.name for asset in self._assets()]

    def parts(self) -> list["TrackPart"]:
        """What the track page shows, in order: the original, then every stem it has."""
        assets = getattr(self, "_prefetched_objects_cache", {}).get("assets")
        if assets is not None:
            # Prefetched: the same rows each time, so worked out once.
            cached = getattr(self, "_parts_of", None)
            if cached is None or cached[0] is not assets:
                self._parts_of = (assets, self._find_parts())
            return self._parts_of[1]
        return self._find_parts()

    def _find_parts(self) -> list["TrackPart"]:
        parts = [
            TrackPart(
                self,
                "",
                self.original,
                self.asset(Asset.Kind.WAVEFORM),
                self.asset(Asset.Kind.PEAKS),
            )
        ]
        for stem in STEMS:
            audio = self.asset(Asset.Kind.STEM, stem.name)
            if audio is not None:
                waveform = self.asset(Asset.Kind.WAVEFORM, stem.name)
                peaks = self.asset(Asset.Kind.PEAKS, stem.name)
                parts.append(TrackPart(self, stem.name, audio, waveform, peaks))
        return parts

    def part(self, name: str) -> "TrackPart | None":
        return next((part for part in self.parts() if part.name == name), None)

    def jam_track(self) -> "TrackPart | None":
        """The part that is the jam track (the registry's JAM_TRACK), once separated."""
        return self.part(JAM_TRACK)


class TrackPart:
    """One playable part of a track for templates: the original mix ("") or a stem."""

    def __init__(
        self,
        track: Track,
        stem: str,
        audio: "Asset | None",
        waveform: "Asset | None",
        peaks: "Asset | None" = None,
    ):
        self.track = track
        self.stem = get_stem(stem) if stem else None
        self.audio = audio
        self.waveform = waveform
        self.peaks = peaks  # the waveform's data for the player; tracks separated before lack it

    @property
    def name(self) -> str:
        """The URL key: "original" or the stem's name."""
        return self.stem.name if self.stem else ORIGINAL_PART

    @property
    def label(self) -> str:
        return self.stem.label if self.stem else "Original"

    @property
    def downloadable(self) -> bool:
        return self.stem is not None

    @property
    def is_guide(self) -> bool:
        """A stem beside the jam track (the vocals): the player's balance fades it in."""
        return self.stem is not None and self.stem.name != JAM_TRACK

    @property
    def colour(self) -> str:
        """The registry's colour of the stem (the player's mute/solo strip)."""
        return self.stem.colour if self.stem else ""


def played_together(parts: list[TrackPart]) -> list[TrackPart]:
    """What the practice player plays as one: every stem given (the caller gives only the
    audible ones), or the original alone while there are no stems yet."""
    stems = [part for part in parts if part.stem is not None and part.audio is not None]
    return stems or [part for part in parts if part.audio is not None]


class Asset(models.Model):
    """One stored file of a track. Storage names are built in `tracks.files` only."""

    class Kind(models.TextChoices):
        ORIGINAL = "original", "Original upload"
        STEM = "stem", "Stem"
        WAVEFORM = "waveform", "Waveform picture"
        PEAKS = "peaks", "Waveform peaks (the player's JSON)"
        RENDITION = "rendition", "Rendition"

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="assets")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The stem it is or draws ("instrumental", "vocals"); "" for the original mix.
    stem = models.CharField(max_length=32, blank=True)
    # What a rendition was made with (tempo, key, balance...); {} for everything else.
    parameters = models.JSONField(default=dict, blank=True)
    name = models.CharField(max_length=255, unique=True)  # the storage name
    size_bytes = models.PositiveBigIntegerField(default=0)
    # The separation job that made it, by id: tracks never depends on separation.
    job_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # By the track's id, not "track": that would order by Track's own ordering, a join
        # with the tracks table in every query of assets (the library's prefetch too).
        ordering = ("track_id", "kind", "stem", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("track", "kind", "stem"),
                condition=~models.Q(kind="rendition"),
                name="one_current_file_per_kind_and_stem",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == Asset.Kind.ORIGINAL:
            return self.get_kind_display()
        return f"{self.get_kind_display()}: {self.stem or ORIGINAL_PART}"


class FileDeletion(models.Model):
    """A stored file (or, ending in "/", a whole track folder) that must go. Recorded in the
    same transaction as the change that made it garbage, removed once storage confirms the
    deletion: a storage failure, or a crash before the commit hook ran, is retried by
    `track_retry_file_deletions` instead of leaving files behind for good."""

    name = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    tried_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("tried_at", "created_at")

    def __str__(self) -> str:
        return self.name


class TrackShare(models.Model):
    """A track shared with a band: its members may hear the parts of its scope (a row of
    `catalog.shares`; see `tracks.access`)."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="shares")
    band = models.ForeignKey("bands.Band", on_delete=models.CASCADE, related_name="track_shares")
    scope = models.CharField(max_length=16, choices=share_scope_choices, default=DEFAULT_SCOPE)
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [models.UniqueConstraint(fields=("track", "band"), name="one_share_per_band")]

    def __str__(self) -> str:
        return f"{self.track} with {self.band}"


class ShareLink(models.Model):
    """A read-only link for someone without an account, to the parts of its scope (a row of
    `catalog.shares`). The URL carries a random token; only its sha256 is stored.
    Revocable, optionally expiring."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="share_links")
    scope = models.CharField(max_length=16, choices=share_scope_choices, default=DEFAULT_SCOPE)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"Link to {self.track}"


class Report(models.Model):
    """A user's report of a track they can see, for the moderators' queue."""

    class Reason(models.TextChoices):
        COPYRIGHT = "copyright", "It infringes someone's copyright"
        OFFENSIVE = "offensive", "It is offensive or abusive"
        SPAM = "spam", "It is spam"
        OTHER = "other", "Something else"

    class Resolution(models.TextChoices):
        HIDDEN = "hidden", "Track hidden"
        REMOVED = "removed", "Track removed"
        DISMISSED = "dismissed", "Dismissed"

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    details = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"Report on {self.track}: {self.get_reason_display()}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
