from django import forms

from separation.models import SeparationJob


class ImportForm(forms.Form):
    url = forms.CharField(
        label="Link",
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://…", "autofocus": True}),
        help_text="A video or audio page (YouTube and the like) or a direct link to a file.",
    )
    title = forms.CharField(label="Title (optional)", max_length=200, required=False)
    quality = forms.ChoiceField(
        label="Separation",
        choices=SeparationJob.Quality.choices,
        initial=SeparationJob.Quality.STANDARD,
        required=False,
        widget=forms.RadioSelect,
    )

    def clean_quality(self) -> str:
        return self.cleaned_data.get("quality") or SeparationJob.Quality.STANDARD
