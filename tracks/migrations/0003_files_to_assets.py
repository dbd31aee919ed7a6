"""Move every track's files from its columns into Asset rows; nothing stored is touched.

The stems were columns (`instrumental`, `vocals`) and so were their waveforms; the format
was a display string ("MP3 MPEG_LAYER_I", cut at 16 characters). This copies each stored
name into an Asset, and splits the string into a container and a codec. The reverse puts
the names back into the columns.
"""

from pathlib import PurePath

from django.db import migrations

# old column -> (asset kind, stem)
COLUMNS = {
    "original": ("original", ""),
    "instrumental": ("stem", "instrumental"),
    "vocals": ("stem", "vocals"),
    "waveform_original": ("waveform", ""),
    "waveform_instrumental": ("waveform", "instrumental"),
    "waveform_vocals": ("waveform", "vocals"),
}
# The engine's old format strings were "<libsndfile format> <subtype>"; MP3's was cut short.
CODEC_FIXES = {"mpeg_layer_i": "mpeg_layer_iii", "mpeg_layer_ii": "mpeg_layer_iii"}
EXTENSION_CONTAINERS = {".m4a": "m4a", ".aac": "aac", ".mp4": "m4a"}


def container_and_codec(audio_format: str, original_name: str) -> tuple[str, str]:
    words = (audio_format or "").lower().split()
    if not words or audio_format == "decoded by ffmpeg":
        container = EXTENSION_CONTAINERS.get(PurePath(original_name or "").suffix.lower(), "")
        return container, ("aac" if container in ("m4a", "aac") else "")
    codec = words[1] if len(words) > 1 else ""
    return words[0], CODEC_FIXES.get(codec, codec)


def stored_size(name: str) -> int:
    from django.core.files.storage import default_storage

    try:
        return default_storage.size(name)
    except (OSError, NotImplementedError):
        return 0


def forwards(apps, schema_editor):
    Track = apps.get_model("tracks", "Track")
    Asset = apps.get_model("tracks", "Asset")
    for track in Track.objects.all().iterator():
        assets = []
        for column, (kind, stem) in COLUMNS.items():
            name = getattr(track, column).name
            if not name:
                continue
            size = track.size_bytes if kind == "original" else stored_size(name)
            assets.append(Asset(track=track, kind=kind, stem=stem, name=name, size_bytes=size))
        Asset.objects.bulk_create(assets)
        track.container, track.codec = container_and_codec(
            track.audio_format, track.original.name
        )
        track.save(update_fields=("container", "codec"))


def backwards(apps, schema_editor):
    Track = apps.get_model("tracks", "Track")
    Asset = apps.get_model("tracks", "Asset")
    columns = {value: column for column, value in COLUMNS.items()}
    for track in Track.objects.all().iterator():
        for asset in Asset.objects.filter(track=track).exclude(kind="rendition"):
            column = columns.get((asset.kind, asset.stem))
            if column:
                setattr(track, column, asset.name)
        track.audio_format = f"{track.container.upper()} {track.codec.upper()}".strip()[:16]
        track.save()
    Asset.objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("tracks", "0002_asset_container_codec"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
