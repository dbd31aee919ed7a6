"""A share's scope replaces the track's `share_vocals`: every band share and share link
names the parts it lets people hear (a row of `catalog.shares`)."""

from django.db import migrations, models
from django.db.models import Q

import catalog.shares

# The scopes as they were when this migration was written: the registry may change later.
JAM, ALL = "jam", "all"


def scopes_from_share_vocals(apps, schema_editor):
    """share_vocals=True gave every part to the track's bands and links; False the jam track."""
    Track = apps.get_model("tracks", "Track")
    vocals = Track.objects.filter(share_vocals=True).values("id")
    for name in ("TrackShare", "ShareLink"):
        model = apps.get_model("tracks", name)
        model.objects.filter(track_id__in=vocals).update(scope=ALL)
        model.objects.exclude(track_id__in=vocals).update(scope=JAM)


def share_vocals_from_scopes(apps, schema_editor):
    """One switch per track cannot hold a scope per share: a track allows the vocals only
    when each of its shares and live links gives every part, so that going back never
    gives anyone more than they had."""
    Track = apps.get_model("tracks", "Track")
    shares = apps.get_model("tracks", "TrackShare").objects.all()
    links = apps.get_model("tracks", "ShareLink").objects.filter(revoked_at=None)
    every_part = Q(id__in=shares.filter(scope=ALL).values("track_id"))
    every_part |= Q(id__in=links.filter(scope=ALL).values("track_id"))
    Track.objects.filter(every_part).exclude(
        id__in=shares.exclude(scope=ALL).values("track_id")
    ).exclude(id__in=links.exclude(scope=ALL).values("track_id")).update(share_vocals=True)


class Migration(migrations.Migration):
    dependencies = [
        ("tracks", "0009_asset_ordering_by_track_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="sharelink",
            name="scope",
            field=models.CharField(
                choices=catalog.shares.share_scope_choices, default="jam", max_length=16
            ),
        ),
        migrations.AddField(
            model_name="trackshare",
            name="scope",
            field=models.CharField(
                choices=catalog.shares.share_scope_choices, default="jam", max_length=16
            ),
        ),
        migrations.RunPython(scopes_from_share_vocals, share_vocals_from_scopes),
        migrations.RemoveField(
            model_name="track",
            name="share_vocals",
        ),
    ]
