"""Each render's mix as per-stem gains: a mix at balance b is the jam track at 100 % and the
vocals at b % ("instrumental:100,vocals:10"; "instrumental:100" at 0); a stem export has no
gains (""). Back: a mix of the full jam track and the vocals at b is balance b; a mix the
balance cannot say (the jam track not at 100 %) is deleted with its file's row — the old
schema has no way to hold it, and its file is deleted on the next sweep's retry of
recorded deletions (tracks.FileDeletion)."""

from django.db import migrations

MIX = "mix"


def gains_from_balance(apps, schema_editor):
    Render = apps.get_model("practice", "Render")
    for render in Render.objects.only("id", "source", "balance").iterator():
        if render.source != MIX:
            gains = ""
        elif render.balance:
            gains = f"instrumental:100,vocals:{render.balance}"
        else:
            gains = "instrumental:100"
        Render.objects.filter(id=render.id).update(gains=gains)


def balance_from_gains(apps, schema_editor):
    Render = apps.get_model("practice", "Render")
    Asset = apps.get_model("tracks", "Asset")
    FileDeletion = apps.get_model("tracks", "FileDeletion")
    for render in Render.objects.only("id", "source", "gains", "asset").iterator():
        if render.source != MIX:
            Render.objects.filter(id=render.id).update(balance=0)
            continue
        gains = dict(item.split(":", 1) for item in render.gains.split(",") if item)
        if gains.get("instrumental") == "100" and set(gains) <= {"instrumental", "vocals"}:
            balance = int(gains.get("vocals", 0))
            Render.objects.filter(id=render.id).update(balance=balance)
            continue
        asset = render.asset
        render.delete()
        if asset is not None:
            FileDeletion.objects.get_or_create(name=asset.name)
            asset.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("practice", "0004_render_gains"),
        ("tracks", "0005_file_deletion"),  # FileDeletion, for the way back
    ]

    operations = [
        migrations.RunPython(gains_from_balance, balance_from_gains),
    ]
