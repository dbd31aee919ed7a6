from django.conf import settings
from django.db import models
from django.utils import timezone


class PendingSignUp(models.Model):
    """A sign-up waiting for its e-mail address to be confirmed. The account is created only
    when the link is followed, so a sign-up changes nothing anyone else can see (a username
    is not taken until it is confirmed) whether or not the address already had an account."""

    username = models.CharField(max_length=150)
    email = models.EmailField()
    password = models.CharField(max_length=128)  # hashed, as User.password
    token_hash = models.CharField(max_length=64, unique=True)  # sha256 of the link's token
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.username} <{self.email}>"


class Suspension(models.Model):
    """A moderator suspended this account: it is inactive (cannot log in, its sessions and
    shares stop working) and, after the right password, is told why."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="suspension"
    )
    reason = models.TextField()
    suspended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    suspended_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} suspended"
