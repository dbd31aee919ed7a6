from django import forms

from bands.models import Band


class BandForm(forms.Form):
    name = forms.CharField(
        label="Band name", max_length=Band._meta.get_field("name").max_length, strip=True
    )


class InviteForm(forms.Form):
    username_or_email = forms.CharField(
        label="Username or e-mail address",
        max_length=254,
        help_text="They get an e-mail with a link to accept or decline.",
    )
