from django.contrib import admin
from django.db.models import Count

from bands.models import Band, Invitation, Membership
from bands.services import band_delete


class MembershipInline(admin.TabularInline):
    """Read-only: members change through the band's own page (the owner's rules)."""

    model = Membership
    fields = ("user", "role", "joined_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Band)
class BandAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "member_count", "created_at")
    search_fields = ("name", "memberships__user__username")
    fields = ("id", "name", "created_at")
    readonly_fields = ("id", "created_at")
    inlines = (MembershipInline,)

    def has_add_permission(self, request):
        return False  # a band starts on the site, with its owner

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, band):
        return band.member_count

    @admin.display(description="Owner")
    def owner(self, band):
        membership = band.memberships.filter(role=Membership.Role.OWNER).select_related("user")
        first = membership.first()
        return first.user.username if first else "—"

    def delete_model(self, request, obj):
        band_delete(band=obj)  # each member's membership_ended goes out

    def delete_queryset(self, request, queryset):
        for band in queryset:
            band_delete(band=band)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: an invitation's link exists only in its e-mail."""

    list_display = (
        "band",
        "invitee",
        "invited_by",
        "created_at",
        "expires_at",
        "answered_at",
        "accepted",
    )
    list_filter = ("accepted",)
    search_fields = ("band__name", "email", "user__username", "invited_by__username")
    list_select_related = ("band", "user", "invited_by")
    fields = (
        "band",
        "user",
        "email",
        "invited_by",
        "created_at",
        "expires_at",
        "answered_at",
        "accepted",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="For")
    def invitee(self, invitation):
        return invitation.user.username if invitation.user else invitation.email
