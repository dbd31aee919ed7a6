"""Band names kept before bidi controls were stripped at input lose them now (the same set
as accounts.text.BIDI_CONTROLS, spelled out: a migration keeps working whatever the code
becomes)."""

from django.db import migrations

BIDI_CONTROLS = {
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
    *"\u200e\u200f\u061c",
}


def strip_names(apps, schema_editor):
    Band = apps.get_model("bands", "Band")
    for band in Band.objects.only("id", "name").iterator():
        name = " ".join("".join(c for c in band.name if c not in BIDI_CONTROLS).split())
        if name != band.name:
            band.name = name or "Band"
            band.save(update_fields=("name",))


class Migration(migrations.Migration):
    dependencies = [("bands", "0002_viewer_role")]

    operations = [migrations.RunPython(strip_names, migrations.RunPython.noop)]
