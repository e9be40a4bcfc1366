"""Seed the default calendar and SLA policy (see sla/defaults.py)."""

from django.db import migrations

from sla.defaults import seed_defaults


def seed(apps, schema_editor):
    seed_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
