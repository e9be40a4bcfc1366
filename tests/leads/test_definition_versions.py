"""Versioned definitions (issue #15): every change of the MQL/SQL checklist or
the ICP segments keeps who, when and what, and the funnel report says which
versions a period was measured with."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from leads import definitions
from leads.models import DefinitionKind, DefinitionVersion, QualificationCriterion, Segment
from tests.factories import SegmentFactory

UTC = dt.UTC


def versions(kind):
    return list(DefinitionVersion.objects.filter(kind=kind).order_by("number"))


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what would run at commit (versions are written then)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def test_the_seeded_definitions_are_version_one(db):
    for kind in DefinitionKind.values:
        first = versions(kind)[0]
        assert first.number == 1 and first.changes == [] and first.changed_by is None
    checklist = versions(DefinitionKind.CHECKLIST)[0].snapshot
    assert {row["code"] for row in checklist} >= {"icp_fit", "budget"}


def test_a_change_is_a_new_version_with_what_changed(db, committed):
    before = len(versions(DefinitionKind.CHECKLIST))
    criterion = QualificationCriterion.objects.get(segment=None, code="budget")
    criterion.text_ru = "Бюджет согласован"

    committed(criterion.save)

    last = versions(DefinitionKind.CHECKLIST)[-1]
    assert last.number == before + 1
    [change] = last.changes
    assert change["change"] == "changed" and change["key"] == "*/sql/budget"
    assert change["fields"] == {"text_ru": ["Бюджет есть или понятен", "Бюджет согласован"]}
    with translation.override("ru"):
        assert definitions.describe(change) == "Изменено: Бюджет согласован"


def test_saving_without_a_change_writes_nothing(db, committed):
    before = DefinitionVersion.objects.count()
    committed(QualificationCriterion.objects.first().save)
    assert DefinitionVersion.objects.count() == before


def test_added_and_removed_rows(db, committed):
    segment = committed(SegmentFactory, code="retail", name_ru="Розница")
    assert versions(DefinitionKind.SEGMENTS)[-1].changes[0]["change"] == "added"
    committed(segment.delete)
    last = versions(DefinitionKind.SEGMENTS)[-1]
    assert [c["change"] for c in last.changes] == ["removed"]
    assert last.snapshot == versions(DefinitionKind.SEGMENTS)[0].snapshot  # back as it was
    assert not Segment.objects.filter(code="retail").exists()


def test_a_change_in_the_admin_is_in_the_name_of_who_made_it(db, head, client, committed):
    criterion = QualificationCriterion.objects.get(segment=None, code="budget")
    client.force_login(head)
    url = reverse("admin:leads_qualificationcriterion_change", args=[criterion.pk])
    data = {
        "segment": "",
        "level": "sql",
        "code": "budget",
        "text_ru": "Бюджет подтверждён",
        "text_en": criterion.text_en,
        "position": criterion.position,
        "is_active": "on",
    }
    response = committed(client.post, url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    last = versions(DefinitionKind.CHECKLIST)[-1]
    assert last.changed_by == head
    assert last.changes[0]["fields"]["text_ru"][1] == "Бюджет подтверждён"


def test_versions_are_read_only_in_the_admin(db, admin_user, client):
    client.force_login(admin_user)
    version = DefinitionVersion.objects.first()
    assert client.get(reverse("admin:leads_definitionversion_changelist")).status_code == 200
    assert (
        client.post(
            reverse("admin:leads_definitionversion_delete", args=[version.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert DefinitionVersion.objects.filter(pk=version.pk).exists()


def test_in_force_per_period(db):
    DefinitionVersion.objects.all().delete()
    times = [dt.datetime(2026, m, 1, tzinfo=UTC) for m in (3, 6, 9)]
    for number, at in enumerate(times, start=1):
        DefinitionVersion.objects.create(kind=DefinitionKind.CHECKLIST, number=number, changed_at=at)

    def numbers(start, end):
        return [v.number for v in definitions.in_force(start, end)[DefinitionKind.CHECKLIST]]

    july = (dt.datetime(2026, 7, 1, tzinfo=UTC), dt.datetime(2026, 8, 1, tzinfo=UTC))
    assert numbers(*july) == [2]
    assert numbers(dt.datetime(2026, 5, 1, tzinfo=UTC), dt.datetime(2026, 10, 1, tzinfo=UTC)) == [1, 2, 3]
    # Before the first version: read with the first (the definition as first recorded).
    assert numbers(dt.datetime(2025, 1, 1, tzinfo=UTC), dt.datetime(2025, 2, 1, tzinfo=UTC)) == [1]
    # A version from exactly the period's start is the one in force.
    assert numbers(times[1], times[1] + dt.timedelta(days=5)) == [2]
    assert definitions.in_force(*july)[DefinitionKind.SEGMENTS] == []


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_funnel_says_what_it_was_measured_with(db, marketer, client, api, committed, language):
    with time_machine.travel(dt.datetime(2026, 11, 10, 9, tzinfo=UTC), tick=False):
        criterion = QualificationCriterion.objects.get(segment=None, code="budget")
        criterion.is_active = False
        committed(criterion.save)
    changed = versions(DefinitionKind.CHECKLIST)[-1]
    api.force_authenticate(marketer)
    answer = api.get("/api/v1/reports/funnel/", {"date_from": "2026-11-01", "date_to": "2026-11-30"}).json()
    checklist = answer["definitions"]["checklist"]
    assert [v["version"] for v in checklist] == [changed.number - 1, changed.number]
    assert checklist[-1]["since"].startswith("2026-11-10")
    december = api.get("/api/v1/reports/funnel/", {"date_from": "2026-12-01", "date_to": "2026-12-02"}).json()
    assert [v["version"] for v in december["definitions"]["checklist"]] == [changed.number]

    client.force_login(marketer)
    with translation.override(language):
        page = client.get(
            "/reports/funnel/",
            {"date_from": "2026-11-01", "date_to": "2026-11-30"},
            HTTP_ACCEPT_LANGUAGE=language,
        ).content.decode()
    expected = {
        "ru": ("Измерено по", "изменилось за период"),
        "en": ("Measured with", "changed during the period"),
    }
    for words in expected[language]:
        assert words in page


def test_history_page_for_every_role(db, people, client, committed, django_assert_max_num_queries):
    criterion = QualificationCriterion.objects.get(segment=None, code="budget")
    criterion.text_ru = "Бюджет подтверждён"
    committed(criterion.save)
    for user in people.values():
        client.force_login(user)
        with django_assert_max_num_queries(12):
            response = client.get(reverse("definitions"), HTTP_ACCEPT_LANGUAGE="ru")
        assert response.status_code == 200
        assert "Изменено: Бюджет подтверждён" in response.content.decode()
    client.logout()
    assert client.get(reverse("definitions")).status_code == 302
