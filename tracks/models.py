import uuid

from django.conf import settings
from django.db import models

from catalog.shares import DEFAULT_SCOPE, share_scope_choices
from catalog.stems import JAM_TRACK, ORIGINAL_PART
from engine.audio import format_label

# Where `Track.objects.with_assets()` keeps each track's stored files (`Track.stored_files`).
STORED_FILES = "stored_file_list"


class TrackQuerySet(models.QuerySet):
    def with_assets(self) -> "TrackQuerySet":
        """Each track's stored files read in one query for all, kept as a list on the track
        (`Track.stored_files()`): pages that look up several of a track's files make no
        query per lookup."""
        return self.prefetch_related(models.Prefetch("assets", to_attr=STORED_FILES))


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
    # A song added from a link (imports/): the address the user gave and the page's title;
    # kept for the moderators (a copyright report names what it came from).
    source_url = models.URLField(max_length=2000, blank=True)
    source_title = models.CharField(max_length=300, blank=True)

    # Room held in the owner's quota for the stems a separation will store (an estimate made
    # at upload); recording the stems releases it. See `tracks.selectors.storage_use_for_user`.
    reserved_bytes = models.PositiveBigIntegerField(default=0)

    # The idempotency key the upload page made for the chosen file: a retried upload (the
    # first one's answer lost) finds this track instead of making another.
    upload_key = models.UUIDField(null=True, blank=True, editable=False)

    # Moderation: a hidden track vanishes for everyone but its owner and moderators.
    # The reason is for the audit log and the moderators only; the message (optional) is
    # what the owner is told, on the track page and by e-mail.
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.TextField(blank=True)
    hidden_message = models.TextField(blank=True)

    objects = TrackQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=("owner", "-created_at"))]
        constraints = [
            models.UniqueConstraint(fields=("owner", "upload_key"), name="one_track_per_upload_key")
        ]
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

    # --- Stored files ---------------------------------------------------------------------
    def stored_files(self) -> list["Asset"]:
        """Every stored file of the track: the list `Track.objects.with_assets()` prefetched
        (`stored_file_list`), else the rows of `assets` (no query either when a caller
        prefetched "assets" itself), else read now."""
        prefetched = getattr(self, STORED_FILES, None)
        if prefetched is not None:
            return prefetched
        return list(self.assets.all())

    def asset(self, kind: str, stem: str = "") -> "Asset | None":
        """The current file of one kind: the original (stem ""), a stem, or the waveform of
        the original (stem "") or of a stem."""
        for asset in self.stored_files():
            if asset.kind == kind and asset.stem == stem and not asset.parameters:
                return asset
        return None

    @property
    def original(self) -> "Asset | None":
        return self.asset(Asset.Kind.ORIGINAL)

    @property
    def has_jam_track(self) -> bool:
        """The jam track (the registry's JAM_TRACK) is stored: the track was separated."""
        return self.asset(Asset.Kind.STEM, JAM_TRACK) is not None

    @property
    def stored_names(self) -> list[str]:
        """Every storage name this track owns, for deletion."""
        return [asset.name for asset in self.stored_files()]


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
    # What a rendition was made with (source, gains, tempo, key, format); {} for everything else.
    parameters = models.JSONField(default=dict, blank=True)
    name = models.CharField(max_length=255, unique=True)  # the storage name
    size_bytes = models.PositiveBigIntegerField(default=0)
    # The id of the separation job whose run stored it (a stem, waveform or peaks); null for
    # the original and for renditions, whose render points at its file instead
    # (`practice.models.Render.asset`). A plain integer, not a foreign key (tracks imports no
    # separation code), so nothing checks it or follows it: a track has one separation job,
    # run again on retry, and each run's files carry that same id.
    job_id = models.BigIntegerField(null=True, blank=True)
    # Whose storage it counts in: an export's file (a rendition) in the quota of the user
    # who asked for it, so a bandmate's exports never fill the owner's library; null for
    # every other file, which counts in the track owner's (`storage_use_for_user`).
    charged_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
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
    """A user's report of a track they can see, for the moderators' queue. Every report is
    kept (a second one from the same person is another row), and outlives its track: the
    track's id, title and owner are copied, so the owner's history still shows it after a
    removal. A decision closes a track's open reports together, with what was done (the
    resolution and the audit log's entry)."""

    class Reason(models.TextChoices):
        COPYRIGHT = "copyright", "It infringes someone's copyright"
        OFFENSIVE = "offensive", "It is offensive or abusive"
        SPAM = "spam", "It is spam"
        OTHER = "other", "Something else"

    class Resolution(models.TextChoices):
        HIDDEN = "hidden", "Track hidden"
        REMOVED = "removed", "Track removed"
        DISMISSED = "dismissed", "Dismissed"
        SUSPENDED = "suspended", "Owner suspended"
        DELETED = "deleted", "Deleted by its owner"

    track = models.ForeignKey(
        Track, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    track_ref = models.UUIDField(null=True, db_index=True)  # the track's id, kept after it goes
    track_title = models.CharField(max_length=200, blank=True)
    track_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
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
    decision = models.ForeignKey(
        "audit.AuditEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reporter_told_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at",)
        indexes = [models.Index(fields=("resolved_at", "created_at"))]

    def __str__(self) -> str:
        return f"Report on {self.track_title or self.track}: {self.get_reason_display()}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class DirectUpload(models.Model):
    """An upload the browser sends straight to the bucket (presigned multipart,
    `tracks.direct`): what the signing step promised, until the finish verifies the object
    and makes it a track (then this row goes). A row left behind (a browser that never came
    back) is deleted by the sweep with its multipart upload, after JAM_MULTIPART_ABORT_AFTER_H."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    upload_key = models.UUIDField()  # the page's idempotency key for the chosen file
    track_id = models.UUIDField(unique=True)  # the track it becomes; names its folder
    name = models.CharField(max_length=255, unique=True)  # the storage name it is uploaded to
    upload_id = models.CharField(max_length=1024)  # the bucket's multipart upload id
    size_bytes = models.PositiveBigIntegerField()
    part_bytes = models.PositiveBigIntegerField()
    filename = models.CharField(max_length=255)
    title = models.CharField(max_length=200, blank=True)
    options = models.JSONField(default=dict, blank=True)  # the acting app's (a quality)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("owner", "upload_key"), name="one_direct_upload_per_key"
            )
        ]

    def __str__(self) -> str:
        return self.filename
