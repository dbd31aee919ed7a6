from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from tracks.access import is_moderator, track_access
from tracks.models import Asset, FileDeletion, Track
from tracks.services import track_delete


class AssetInline(admin.TabularInline):
    model = Asset
    fields = ("kind", "stem", "name", "size_bytes", "job_id", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "created_at", "length", "format_label", "status")
    list_filter = ("job__status", "container")
    search_fields = ("title", "original_filename", "owner__username", "owner__email")
    list_select_related = ("owner", "job")
    date_hierarchy = "created_at"
    fields = (
        "title",
        "owner",
        "status",
        "original_filename",
        "created_at",
        "length",
        "format_label",
        "sample_rate",
        "channels",
        "size",
        "id",
    )
    readonly_fields = fields
    inlines = (AssetInline,)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # owners rename on the site; moderators act through delete

    def has_delete_permission(self, request, obj=None):
        """Removing someone's track is moderation: the one access rule says who moderates."""
        return is_moderator(request.user)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("assets")

    def get_deleted_objects(self, objs, request):
        """A track's job and files go with it: whoever may delete the track may delete them
        (the jobs admin deletes no job on its own)."""
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj):
        track_delete(track=obj)

    def delete_queryset(self, request, queryset):
        """The stock bulk delete (with its confirmation page) through the service, so the
        files go too."""
        for track in queryset:
            track_delete(track=track)

    @admin.display(description="Status")
    def status(self, track):
        job = getattr(track, "job", None)
        return job.status_label if job else "—"

    @admin.display(description="Format")
    def format_label(self, track):
        return track.format_label

    @admin.display(description="Length", ordering="duration_s")
    def length(self, track):
        return track.duration_label

    @admin.display(description="Size")
    def size(self, track):
        return filesizeformat(track.size_bytes)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Links to the track's files, through the same views and access rule as the track
        page: moderators and the owner get them, other staff are told why not."""
        track = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if track is not None:
            extra_context["file_links"] = _file_links(track)
            extra_context["can_listen"] = track_access(request.user, track).can_listen
        return super().change_view(request, object_id, form_url, extra_context)


def _file_links(track: Track) -> list[tuple[str, str]]:
    links = []
    for part in track.parts():
        if part.audio is None:
            continue
        links.append((reverse("tracks:audio", args=[track.id, part.name]), f"Play {part.label}"))
        if part.downloadable:
            url = reverse("tracks:download", args=[track.id, part.name])
            links.append((url, f"Download {part.label}"))
    return links


@admin.register(FileDeletion)
class FileDeletionAdmin(admin.ModelAdmin):
    """Files storage refused to delete, retried by the worker: read-only, for operators."""

    list_display = ("name", "attempts", "tried_at", "last_error", "created_at")
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
