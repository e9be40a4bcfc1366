"""An index over rejected leads' reasons (partial: intake never writes it), so
reports exclude the few duplicates from deals and timers without reading every
lead (LeadQuerySet.duplicates)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0005_spend_import_and_campaign_source"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("rejection_reason__isnull", False)),
                fields=["rejection_reason", "id"],
                name="lead_rejection_reason_idx",
            ),
        ),
    ]
