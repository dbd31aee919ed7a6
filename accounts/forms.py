from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User


class SignUpForm(UserCreationForm):
    """Says when a username is taken (usernames are public handles, shown to bandmates),
    never whether an e-mail address has an account: that is answered only in the mailbox."""

    email = forms.EmailField(
        required=True,
        help_text="We send a link there to finish signing up, and to reset your password.",
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")
