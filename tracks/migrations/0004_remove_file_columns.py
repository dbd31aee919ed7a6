from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tracks", "0003_files_to_assets"),
    ]

    operations = [
        # A default first, so that reversing this (re-adding the column) works on any rows.
        migrations.AlterField(
            model_name="track",
            name="original",
            field=models.FileField(blank=True, default="", max_length=255, upload_to=""),
        ),
        migrations.RemoveField(model_name="track", name="original"),
        migrations.RemoveField(model_name="track", name="instrumental"),
        migrations.RemoveField(model_name="track", name="vocals"),
        migrations.RemoveField(model_name="track", name="waveform_original"),
        migrations.RemoveField(model_name="track", name="waveform_instrumental"),
        migrations.RemoveField(model_name="track", name="waveform_vocals"),
        migrations.RemoveField(model_name="track", name="audio_format"),
    ]
