"""The company's defaults for the clock: a business calendar (Moscow, Mon–Fri
09:00–13:00 and 14:00–18:00, Russian public holidays and transfers) and the
default SLA policy (first contact in 15 working minutes, three failed calls to
nurture). Seeded by a migration and after every migrate/flush; only created
when missing, never overwritten."""

import datetime as dt

from django.apps import apps as global_apps


def seed_defaults(apps=global_apps):
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
