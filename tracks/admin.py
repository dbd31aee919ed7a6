from django.contrib import admin
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html

from tracks import console
from tracks.access import is_moderator, track_access
from tracks.models import Asset, FileDeletion, Report, Track, TrackShare
from tracks.parts import track_parts


class ModeratorAccess:
    """For a ModelAdmin: moderators (the one access rule's `is_moderator`) see it and may run
    its "moderate" actions; other staff see at most what Django's own permissions give."""

    def has_moderate_permission(self, request):
        return is_moderator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_moderator(request.user) or super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return is_moderator(request.user) or super().has_module_permission(request)


class ModeratedAdmin(ModeratorAccess, admin.ModelAdmin):
    pass


class HiddenFilter(admin.SimpleListFilter):
    title = "visibility"
    parameter_name = "hidden"

    def lookups(self, request, model_admin):
        return (("yes", "Hidden"), ("no", "Visible"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(hidden_at=None)
        if self.value() == "no":
            return queryset.filter(hidden_at=None)
        return queryset


class ShareInline(admin.TabularInline):
    model = TrackShare
    fields = ("band", "scope", "shared_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class AssetInline(admin.TabularInline):
    model = Asset
    fields = ("kind", "stem", "name", "size_bytes", "job_id", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Track)
class TrackAdmin(ModeratedAdmin):
    list_display = (
        "title",
        "owner",
        "created_at",
        "length",
        "format_label",
        "status",
        "visibility",
        "open_reports",
        "review",
    )
    list_filter = (HiddenFilter, "job__status", "container")
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
        "hidden_at",
        "hidden_reason",
        "id",
    )
    readonly_fields = fields
    inlines = (AssetInline, ShareInline)
    # No bulk actions: moderators decide one track at a time, on its review page.
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # owners rename on the site; moderators act through the actions

    def has_delete_permission(self, request, obj=None):
        return False  # "Remove" asks for the reason the audit log keeps

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .with_assets()
            .annotate(reports_open=Count("reports", filter=Q(reports__resolved_at=None)))
        )

    @admin.display(description="Review")
    def review(self, track):
        url = reverse("admin:tracks_report_review", args=[track.id])
        return format_html('<a href="{}">Review</a>', url)

    @admin.display(description="Visibility", ordering="hidden_at")
    def visibility(self, track):
        return "Hidden" if track.is_hidden else "Visible"

    @admin.display(description="Open reports", ordering="reports_open")
    def open_reports(self, track):
        return track.reports_open

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
        """Moderators review the track on its review page (the console). Other staff with
        Django's view permission see the record, and links to the track's files through the
        same views and access rule as the track page, which refuse them."""
        if is_moderator(request.user) and Track.objects.filter(pk=object_id).exists():
            return redirect("admin:tracks_report_review", object_id)
        track = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if track is not None:
            extra_context["file_links"] = _file_links(track)
            access = track_access(request.user, track)
            # Every part's file: what its owner and moderators may open (a bandmate who is
            # also staff would find some links refused).
            extra_context["opens_files"] = access.hears_all and access.can_download
        return super().change_view(request, object_id, form_url, extra_context)


def _file_links(track: Track) -> list[tuple[str, str]]:
    links = []
    for part in track_parts(track):
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


class OpenFilter(admin.SimpleListFilter):
    """Open reports unless asked otherwise: the queue is what a moderator comes for."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("open", "Open"), ("resolved", "Resolved"), ("all", "All"))

    def value(self):
        return super().value() or "open"

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at=None)
        if self.value() == "resolved":
            return queryset.exclude(resolved_at=None)
        return queryset


@admin.register(Report)
class ReportAdmin(ModeratedAdmin):
    """Every report, open ones unless asked otherwise; the console's views (the queue, a
    track's review page and its actions: tracks/console.py) hang from its URLs."""

    list_display = (
        "created_at",
        "reported_track",
        "owner",
        "reason",
        "details",
        "reporter",
        "state",
    )
    list_filter = (OpenFilter, "reason")
    list_select_related = ("track", "track_owner", "reporter")
    readonly_fields = (
        "track",
        "track_title",
        "track_owner",
        "reporter",
        "reason",
        "details",
        "created_at",
        "resolved_at",
        "resolved_by",
        "resolution",
        "decision",
        "reporter_told_at",
    )
    fields = readonly_fields
    actions = None  # decisions are taken per track, on its review page

    def get_urls(self):
        site = self.admin_site

        def view(function):
            return site.admin_view(lambda request, **kwargs: function(request, site, **kwargs))

        return [
            path("queue/", view(console.queue), name="tracks_report_queue"),
            path("review/<uuid:track_id>/", view(console.review), name="tracks_report_review"),
            path(
                "review/<uuid:track_id>/<slug:action>/",
                view(console.act),
                name="tracks_report_act",
            ),
            *super().get_urls(),
        ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Track")
    def reported_track(self, report):
        if report.track is None:
            return f"{report.track_title} (gone)"
        url = reverse("admin:tracks_report_review", args=[report.track_id])
        hidden = " (hidden)" if report.track.is_hidden else ""
        return format_html('<a href="{}">{}</a>{}', url, report.track.title, hidden)

    @admin.display(description="Owner")
    def owner(self, report):
        return report.track_owner

    @admin.display(description="State")
    def state(self, report):
        return "Open" if report.is_open else report.get_resolution_display()
