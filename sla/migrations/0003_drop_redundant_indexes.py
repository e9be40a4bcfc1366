"""Drop indexes that only slow inserts: the single-column index on
SlaTimer.lead (slatimer_lead_idx on (lead, kind) serves every lookup) and the
LIKE index PostgreSQL gets for a unique=True varchar (Notification.dedupe_key is
now unique by a constraint, without it).

Django's AlterField to db_index=False drops *every* index on the column,
including the partial unique index of slatimer_one_running_first; it is
removed before and added back after, so the rule "one running first-contact
timer per lead" never leaves the database."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0003_drop_redundant_indexes"),
        ("sla", "0002_seed_defaults"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="dedupe_key",
            field=models.CharField(max_length=200),
        ),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.UniqueConstraint(fields=("dedupe_key",), name="notification_dedupe_key_unique"),
        ),
        migrations.RemoveConstraint(model_name="slatimer", name="slatimer_one_running_first"),
        migrations.AlterField(
            model_name="slatimer",
            name="lead",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="timers",
                to="leads.lead",
                verbose_name="lead",
            ),
        ),
        migrations.AddConstraint(
            model_name="slatimer",
            constraint=models.UniqueConstraint(
                condition=Q(kind="first_contact", state="running"),
                fields=("lead",),
                name="slatimer_one_running_first",
            ),
        ),
    ]
