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

    def clean_quality(self) -> str:
        return self.cleaned_data.get("quality") or Quality.STANDARD
