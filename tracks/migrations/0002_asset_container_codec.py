import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tracks", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="track",
            options={
                "ordering": ("-created_at",),
                "permissions": [
                    ("moderate_track", "Can moderate tracks: listen to and download any track")
                ],
            },
        ),
        migrations.AddField(
            model_name="track",
            name="container",
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.AddField(
            model_name="track",
            name="codec",
            field=models.CharField(blank=True, max_length=24),
        ),
        migrations.CreateModel(
            name="Asset",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("original", "Original upload"), ("stem", "Stem"), ("waveform", "Waveform picture"), ("rendition", "Rendition")], max_length=16)),
                ("stem", models.CharField(blank=True, max_length=32)),
                ("parameters", models.JSONField(blank=True, default=dict)),
                ("name", models.CharField(max_length=255, unique=True)),
                ("size_bytes", models.PositiveBigIntegerField(default=0)),
                ("job_id", models.BigIntegerField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("track", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="assets", to="tracks.track")),
            ],
            options={
                "ordering": ("track", "kind", "stem", "id"),
                "constraints": [
                    models.UniqueConstraint(condition=models.Q(("kind", "rendition"), _negated=True), fields=("track", "kind", "stem"), name="one_current_file_per_kind_and_stem"),
                ],
            },
        ),
    ]
