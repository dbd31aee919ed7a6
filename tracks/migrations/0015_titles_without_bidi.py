"""Track titles kept before bidi controls were stripped at input lose them now, as band names
did (bands 0003; the same set as accounts.text.BIDI_CONTROLS, spelled out: a migration keeps
working whatever the code becomes)."""

from django.db import migrations

BIDI_CONTROLS = {
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
    *"\u200e\u200f\u061c",
}


def strip_titles(apps, schema_editor):
    Track = apps.get_model("tracks", "Track")
    for track in Track.objects.only("id", "title").iterator():
        title = "".join(c for c in track.title if c not in BIDI_CONTROLS).strip()
        if title != track.title:
            track.title = title or "Untitled"
            track.save(update_fields=("title",))


class Migration(migrations.Migration):
    dependencies = [("tracks", "0014_upload_keys_and_direct_uploads")]

    operations = [migrations.RunPython(strip_titles, migrations.RunPython.noop)]
