from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("practice", "0005_render_gains_from_balance"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="render",
            name="balance",
        ),
        migrations.AddConstraint(
            model_name="render",
            constraint=models.UniqueConstraint(
                fields=("track", "source", "gains", "tempo", "semitones", "format"),
                name="one_render_per_track_and_settings",
            ),
        ),
    ]
