from django import forms

from separation.models import SeparationJob
from tracks.forms import UploadForm

Quality = SeparationJob.Quality


class SongUploadForm(UploadForm):
    """The upload, and how its stems are made. A post without a quality gets the standard
    one (scripts and older pages post only the file and title)."""

    quality = forms.ChoiceField(
        label="Separation",
        choices=Quality.choices,
        initial=Quality.STANDARD,
        required=False,
        widget=forms.RadioSelect,
        help_text=(
            "Cleaner runs Spleeter's Wiener filter after the model: on our test songs it left "
            "about 5 % less of the singer in the jam track and came a little closer to the "
            "real instrumental. It takes about twice as long."
        ),
    )

    # Made by the page for each chosen file: a retried post finds the first one's track.
    upload_key = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def clean_quality(self) -> str:
        return self.cleaned_data.get("quality") or Quality.STANDARD


class DirectUploadStartForm(forms.Form):
    """The start of an upload straight to the bucket: what the browser is about to send
    (a small JSON body; the bytes go to the bucket)."""

    upload_key = forms.UUIDField()
    filename = forms.CharField(max_length=1000)
    size = forms.IntegerField(min_value=0)
    title = forms.CharField(max_length=200, required=False)
    quality = forms.ChoiceField(choices=Quality.choices, required=False)

    def clean_quality(self) -> str:
        return self.cleaned_data.get("quality") or Quality.STANDARD


class DirectUploadSignForm(forms.Form):
    """Which parts the browser wants URLs for (a few at a time)."""

    parts = forms.JSONField(required=False)  # clean_parts says what is wrong

    def clean_parts(self) -> list[int]:
        parts = self.cleaned_data["parts"]
        if (
            not isinstance(parts, list)
            or not 0 < len(parts) <= 100
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in parts)
        ):
            raise forms.ValidationError("A list of up to 100 part numbers.")
        return parts
