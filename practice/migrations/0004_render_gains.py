# A mix is per-stem gains, no longer the vocals' balance: the column first (0004), the rows
# converted (0005), then the balance dropped and the constraint on the gains (0006). Three
# migrations, so the data is changed in a transaction of its own (PostgreSQL will not alter a
# table with row changes pending in the same transaction).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("practice", "0003_render_phase"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="render",
            name="one_render_per_track_and_settings",
        ),
        migrations.AddField(
            model_name="render",
            name="gains",
            field=models.CharField(default="instrumental:100", max_length=200),
        ),
    ]
