from django.db import migrations, models


def record_done_steps(apps, schema_editor):
    """Enrollments started before this field: their done steps are the ones that
    left an email or a task (a pause leaves nothing, so it cannot be told)."""
    TrackEnrollment = apps.get_model("leads", "TrackEnrollment")
    TrackEmail = apps.get_model("leads", "TrackEmail")
    MarketingTask = apps.get_model("leads", "MarketingTask")
    done: dict[int, set[int]] = {}
    for model in (TrackEmail, MarketingTask):
        rows = model.objects.filter(step__isnull=False).values_list("enrollment_id", "step_id")
        for enrollment_id, step_id in rows.iterator():
            done.setdefault(enrollment_id, set()).add(step_id)
    for enrollment_id, steps in done.items():
        TrackEnrollment.objects.filter(pk=enrollment_id).update(done_steps=sorted(steps))


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0014_disputes"),
    ]

    operations = [
        migrations.AddField(
            model_name="trackenrollment",
            name="done_steps",
            field=models.JSONField(blank=True, default=list, verbose_name="steps done"),
        ),
        migrations.RunPython(record_done_steps, migrations.RunPython.noop),
    ]
