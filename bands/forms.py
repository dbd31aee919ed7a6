from django import forms

from accounts.text import strip_bidi
from bands.models import Band, Membership
from bands.roles import OWNER, BandRole, roles_given_by


class BandForm(forms.Form):
    name = forms.CharField(
        label="Band name", max_length=Band._meta.get_field("name").max_length, strip=True
    )

    def clean_name(self):
        name = strip_bidi(self.cleaned_data["name"]).strip()
        if not name:
            raise forms.ValidationError("Give the band a name.")
        return name


class InviteForm(forms.Form):
    username_or_email = forms.CharField(
        label="Username or e-mail address",
        max_length=254,
        help_text="They get an e-mail with a link to accept or decline.",
    )
    role = forms.ChoiceField(label="Joins as", initial=Membership.Role.MEMBER, required=False)

    def __init__(self, *args, roles: list[BandRole] | None = None, **kwargs):
        """``roles``: the choices shown, those the inviter may give; by default every role
        anyone may give (`band_invite` refuses the ones this inviter may not)."""
        super().__init__(*args, **kwargs)
        roles = roles_given_by(OWNER) if roles is None else roles
        self.fields["role"].choices = [(role.value, role.label) for role in roles]
