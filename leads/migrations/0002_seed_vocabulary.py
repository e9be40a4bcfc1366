"""Seed the funnel's vocabulary (see leads/vocabulary.py)."""

from django.db import migrations

from leads.vocabulary import seed_vocabulary


def seed(apps, schema_editor):
    seed_vocabulary(apps)


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
