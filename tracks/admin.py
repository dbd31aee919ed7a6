from django.contrib import admin

from tracks.models import Track
from tracks.services import track_delete


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "created_at", "duration_label", "audio_format", "status")
    list_filter = ("job__status", "audio_format")
    search_fields = ("title", "original_filename", "owner__username", "owner__email")
    list_select_related = ("owner", "job")
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "owner",
        "original_filename",
        "created_at",
        "original",
        "size_bytes",
        "duration_s",
        "sample_rate",
        "channels",
        "audio_format",
        "instrumental",
        "vocals",
        "waveform_original",
        "waveform_instrumental",
        "waveform_vocals",
    )
    actions = ("delete_with_files",)

    def has_add_permission(self, request):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        # The stock bulk delete would leave the files behind in storage.
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="Status")
    def status(self, track):
        job = getattr(track, "job", None)
        return job.get_status_display() if job else "—"

    def delete_model(self, request, obj):
        track_delete(track=obj)

    @admin.action(description="Delete selected tracks and their files", permissions=("delete",))
    def delete_with_files(self, request, queryset):
        for track in queryset:
            track_delete(track=track)
        self.message_user(request, "Deleted.")
