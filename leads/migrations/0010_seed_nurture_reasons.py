"""Seed the nurture reasons (see leads/vocabulary.py)."""

from django.db import migrations

from leads.vocabulary import seed_nurture_reasons


def seed(apps, schema_editor):
    seed_nurture_reasons(apps)


class Migration(migrations.Migration):
    dependencies = [("leads", "0009_nurture_tracks")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
