"""The nurture reasons a rep picks from (marketing edits them in the admin; a
track picks its leads by them). `no_answer` is the one the attempts rule uses."""

from django.db import migrations

REASONS = [
    ("no_answer", "Не дозвонились", "Could not reach"),
    ("not_now", "Не сейчас — вернуться позже", "Not now, come back later"),
    ("no_budget", "Нет бюджета", "No budget yet"),
    ("researching", "Изучает рынок, рано говорить о покупке", "Still researching, too early to buy"),
    ("other", "Другое", "Other"),
]


def seed(apps, schema_editor):
    NurtureReason = apps.get_model("leads", "NurtureReason")
    for position, (code, name_ru, name_en) in enumerate(REASONS, start=1):
        NurtureReason.objects.update_or_create(
            code=code, defaults={"name_ru": name_ru, "name_en": name_en, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("leads", "0009_nurture_tracks")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
