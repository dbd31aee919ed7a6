from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import (
    AdminUserCreationForm,
    AuthenticationForm,
    PasswordResetForm,
    UserChangeForm,
    UserCreationForm,
)
from django.contrib.auth.models import User

from accounts.mail import PASSWORD_RESET, mail_after_commit, requester_of
from accounts.services import suspension_for_login, username_looks_taken

LOOKS_TAKEN = "This username looks too much like an existing one. Choose another."


class LookalikeUsernameRefused:
    """For a form with a username: NFKC-normalised (Django's UsernameField does it), and
    refused when it looks like another account's ("ádmin" beside "admin")."""

    def clean_username(self):
        clean = getattr(super(), "clean_username", None)
        username = clean() if clean is not None else self.cleaned_data.get("username")
        unchanged = self.instance.pk is not None and username == self.instance.username
        # An account kept under its own name is not judged again: two older lookalikes
        # stay editable in the admin.
        if (
            username
            and not unchanged
            and username_looks_taken(username=username, exclude_user_id=self.instance.pk)
        ):
            raise forms.ValidationError(LOOKS_TAKEN, code="lookalike")
        return username


class SignUpForm(LookalikeUsernameRefused, UserCreationForm):
    """Says when a username is taken (usernames are public handles, shown to bandmates),
    never whether an e-mail address has an account: that is answered only in the mailbox."""

    email = forms.EmailField(
        required=True,
        help_text="We send a link there to finish signing up, and to reset your password.",
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


def _refuse_if_suspended(form) -> None:
    """After a failed login: if the username and password were right but the account is
    suspended, say so plainly (and why) instead of "wrong password". Someone who does not
    know the password learns nothing."""
    suspension = suspension_for_login(
        username=form.cleaned_data.get("username") or "",
        password=form.cleaned_data.get("password") or "",
    )
    if suspension is not None:
        raise forms.ValidationError(
            f"Your account is suspended: {suspension.reason} "
            "Contact the moderators if you think this is a mistake.",
            code="suspended",
        )


class LoginForm(AuthenticationForm):
    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            _refuse_if_suspended(self)
            raise


class AdminLoginForm(AdminAuthenticationForm):
    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            _refuse_if_suspended(self)
            raise


class LimitedPasswordResetForm(PasswordResetForm):
    """Django's password reset, with each mail counted against the mail limits and sent
    after the commit (accounts.mail); the page after it reads the same either way."""

    requester = "unknown"

    def save(self, *, request=None, **kwargs):
        if request is not None:
            self.requester = requester_of(request)
        return super().save(request=request, **kwargs)

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        args = (subject_template_name, email_template_name, context, from_email, to_email)
        mail_after_commit(
            kind=PASSWORD_RESET,
            to=to_email,
            requester=self.requester,
            send=lambda: PasswordResetForm.send_mail(
                self, *args, html_email_template_name=html_email_template_name
            ),
        )


class GuardedAdminUserCreationForm(LookalikeUsernameRefused, AdminUserCreationForm):
    pass


class GuardedUserChangeForm(LookalikeUsernameRefused, UserChangeForm):
    pass
