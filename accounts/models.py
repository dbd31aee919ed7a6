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
