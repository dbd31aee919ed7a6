"""Bands: musicians who share jam tracks with each other. A band has one owner, any number
of admins, members and viewers (the rows of `bands.roles`); people join by accepting an
invitation, which names the role they get."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.text import strip_bidi
from bands.roles import ROLES, BandRole, band_role

# One member per row of `bands.roles.ROLES`: Role.OWNER == "owner", Role.VIEWER.label ...
Role = models.TextChoices(
    "Role", [(role.value.upper(), (role.value, role.label)) for role in ROLES]
)


class Band(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Forms on the model (the admin's) keep the name as `band_create` does."""
        self.name = " ".join(strip_bidi(self.name).split())


class Membership(models.Model):
    Role = Role

    band = models.ForeignKey(Band, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="band_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("joined_at", "id")
        constraints = [
            models.UniqueConstraint(fields=("band", "user"), name="one_membership_per_band"),
            models.UniqueConstraint(
                fields=("band",), condition=models.Q(role="owner"), name="one_owner_per_band"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.band} ({self.role})"

    @property
    def rights(self) -> BandRole:
        """The role's row: what this member may do in the band and with its tracks."""
        return band_role(self.role)

    @property
    def can_invite(self) -> bool:
        return self.rights.runs_band

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER


class Invitation(models.Model):
    """An invitation to join a band, by username or e-mail. The link carries a random token;
    only its sha256 is stored."""

    band = models.ForeignKey(Band, on_delete=models.CASCADE, related_name="invitations")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="band_invitations",
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    accepted = models.BooleanField(null=True)  # None: not answered (or withdrawn)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"Invitation to {self.band} for {self.user or self.email}"

    @property
    def rights(self) -> BandRole:
        """The row of the role the invitee gets by accepting."""
        return band_role(self.role)

    @property
    def is_open(self) -> bool:
        return self.answered_at is None and self.expires_at > timezone.now()
