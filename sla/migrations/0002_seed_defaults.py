"""A default business calendar (Moscow, Mon–Fri 09:00–13:00 and 14:00–18:00,
Russian public holidays and transfers) and the default SLA policy (first
contact in 15 working minutes, three failed calls to nurture). Both are
editable; teams may have their own calendars and policies may be added."""

import datetime as dt

from django.db import migrations


def seed(apps, schema_editor):
    Calendar = apps.get_model("sla", "BusinessCalendar")
    Hours = apps.get_model("sla", "WorkingHours")
    Policy = apps.get_model("sla", "SlaPolicy")
    calendar, created = Calendar.objects.get_or_create(
        code="default",
        defaults={"name": "Москва, пн–пт 9–18", "timezone": "Europe/Moscow", "holiday_country": "RU"},
    )
    if created:
        for weekday in range(5):
            Hours.objects.create(calendar=calendar, weekday=weekday, opens=dt.time(9), closes=dt.time(13))
            Hours.objects.create(calendar=calendar, weekday=weekday, opens=dt.time(14), closes=dt.time(18))
    Policy.objects.get_or_create(
        is_default=True,
        defaults={
            "name": "Стандарт: 15 минут, 3 звонка",
            "first_contact_seconds": 15 * 60,
            "failed_attempts_to_nurture": 3,
            "reminder_percent": 67,
            "escalate_after_seconds": 60 * 60,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
