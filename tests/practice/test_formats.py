"""The export formats are one registry (catalog/formats.py): the column's choices, storage
names, media types, the quota's estimate and every page that offers a format read it."""

import pytest
from django.urls import reverse

from catalog.formats import (
    DEFAULT_FORMAT,
    EXPORT_FORMAT_LABELS,
    EXPORT_FORMATS,
    PLAYER_FORMAT,
    get_export_format,
)
from practice.dispatch import ExportError, export_settings_parse
from practice.models import Render
from tests.factories import make_track
from tracks.files import STEM_EXTENSION, rendition_name
from tracks.media import CONTENT_TYPES


def test_the_registry_lists_wav_flac_and_mp3_first_and_names_them_in_a_sentence():
    assert [fmt.name for fmt in EXPORT_FORMATS][:3] == ["wav", "flac", "mp3"]
    assert EXPORT_FORMAT_LABELS.startswith("WAV, FLAC")
    assert EXPORT_FORMAT_LABELS.endswith(f" or {EXPORT_FORMATS[-1].label}")
    assert get_export_format(DEFAULT_FORMAT) and get_export_format(PLAYER_FORMAT)


def test_an_unknown_format_name_is_none():
    assert get_export_format("opus") is None
    assert get_export_format("") is None
    assert get_export_format(".wav") is None


def test_every_format_is_a_choice_of_the_render_column_and_fits_it():
    field = Render._meta.get_field("format")
    assert field.choices == [(fmt.name, fmt.label) for fmt in EXPORT_FORMATS]
    assert field.default == DEFAULT_FORMAT
    for fmt in EXPORT_FORMATS:
        assert len(fmt.name) <= field.max_length
        assert fmt.name == fmt.name.lower().strip()  # the parse lowers what it is sent


def test_every_format_is_stored_with_its_extension_and_served_with_its_media_type():
    for fmt in EXPORT_FORMATS:
        assert rendition_name("some-id", "mix-v0-t100-k+0", fmt.name).endswith(fmt.extension)
        assert CONTENT_TYPES[fmt.extension] == fmt.mime_type
    with pytest.raises(ValueError, match="no rendition format 'opus'"):
        rendition_name("some-id", "mix-v0-t100-k+0", "opus")


def test_the_parse_accepts_every_format_in_any_case_and_refuses_others_naming_them_all():
    for fmt in EXPORT_FORMATS:
        assert export_settings_parse(fmt=f" {fmt.name.upper()} ").format == fmt.name
    assert export_settings_parse().format == DEFAULT_FORMAT
    with pytest.raises(ExportError) as refused:
        export_settings_parse(fmt="opus")
    assert str(refused.value) == f"The format must be {EXPORT_FORMAT_LABELS}."


def test_the_track_page_offers_every_format_in_the_export_form_the_stems_and_the_player(
    alice, alice_client, tmp_path, fake_engine
):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    form = page.split('id="export-format"')[1].split("</select>")[0]
    player = page.split('data-role="export-format"')[1].split("</select>")[0]
    for fmt in EXPORT_FORMATS:
        assert f'<option value="{fmt.name}">{fmt.label}</option>' in form
        chosen = " selected" if fmt.name == PLAYER_FORMAT else ""
        assert f'<option value="{fmt.name}"{chosen}>{fmt.label}</option>' in player
        # A stem downloads as stored (WAV) or is exported in every other format.
        offered = f'aria-label="Vocals as {fmt.label}"' in page
        assert offered == (fmt.extension != STEM_EXTENSION)
    assert form.count("<option") == player.count("<option") == len(EXPORT_FORMATS)
