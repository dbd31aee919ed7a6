from pathlib import PurePath

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from tracks.models import Report, Track
from tracks.services import ALLOWED_EXTENSIONS, clean_title


class UploadForm(forms.Form):
    """Checks what can be checked before decoding: presence, size, extension.
    Decoding and the duration limit are checked by the upload service."""

    file = forms.FileField(
        label="Song",
        widget=forms.ClearableFileInput(
            attrs={"accept": ",".join((*ALLOWED_EXTENSIONS, "audio/*"))}
        ),
    )
    title = forms.CharField(max_length=200, required=False, help_text="Defaults to the file name.")

    def __init__(self, *args, upload_too_big: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.upload_too_big = upload_too_big

    def _too_big_message(self) -> str:
        limit = filesizeformat(settings.JAM_MAX_UPLOAD_BYTES)
        return f"That file is too big. The limit is {limit}."

    def clean(self):
        cleaned = super().clean()
        if self.upload_too_big:
            # The upload handler dropped the file while streaming, so "required" fired.
            self.errors.pop("file", None)
            self.add_error("file", self._too_big_message())
        return cleaned

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.JAM_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(self._too_big_message())
        if upload.size == 0:
            raise forms.ValidationError("That file is empty.")
        suffix = PurePath(upload.name or "").suffix.lower()
        if suffix not in ALLOWED_EXTENSIONS:
            allowed = ", ".join(ext.lstrip(".") for ext in ALLOWED_EXTENSIONS)
            raise forms.ValidationError(f"Please upload an audio file ({allowed}).")
        return upload


class RenameForm(forms.ModelForm):
    class Meta:
        model = Track
        fields = ("title",)

    def clean_title(self):
        title = clean_title(self.cleaned_data["title"])
        if not title:
            raise forms.ValidationError("A title cannot be blank.")
        return title


class ReportForm(forms.Form):
    reason = forms.ChoiceField(choices=Report.Reason.choices, label="What is wrong?")
    details = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Details (optional)",
    )
