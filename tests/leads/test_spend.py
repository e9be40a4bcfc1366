"""Marketing spend (issue #12, "Spend"): entry at /reports/spend/, a campaign's
row carrying its source, and import from CSV/XLSX through an ImportJob (the
page and `manage.py import_spend`), per role."""

import datetime as dt
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import translation

from leads.models import ImportJob, Spend
from tests.factories import CampaignFactory, SourceFactory

pytestmark = pytest.mark.django_db

LIST = "/reports/spend/"
MAY_EDIT = ["marketer", "marketing_head", "admin_user"]
SALES = ["rep", "teammate", "head", "other_head"]


@pytest.fixture(autouse=True)
def _english(settings, tmp_path, client):
    settings.DATA_DIR = tmp_path / "data"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def direct(db):
    return SourceFactory(code="sp_direct", name="Директ тест")


@pytest.fixture
def vk(db):
    return SourceFactory(code="sp_vk", name="VK тест")


@pytest.fixture
def brand(direct):
    return CampaignFactory(source=direct, code="brand", name="Бренд")


@pytest.fixture
def retarget(vk):
    return CampaignFactory(source=vk, code="retarget", name="Ретаргет")


def month(text):
    return dt.date.fromisoformat(text + "-01")


# --- the model --------------------------------------------------------------------------------


def test_a_campaigns_row_takes_the_campaigns_source(brand, vk):
    spend = Spend.objects.create(source=vk, campaign=brand, month=month("2026-03"), amount=Decimal(10))
    spend.refresh_from_db()
    assert spend.source_id == brand.source_id


def test_clean_refuses_a_campaign_of_another_source(brand, vk):
    spend = Spend(source=vk, campaign=brand, month=month("2026-03"), amount=Decimal(10))
    with pytest.raises(ValidationError) as caught:
        spend.clean()
    assert "belongs to another source" in str(caught.value)


def test_the_database_refuses_a_campaign_row_with_another_source(brand, vk):
    if connection.vendor != "postgresql":
        pytest.skip(
            "the composite foreign key exists on PostgreSQL only (SQLite: Spend.save sets the source)"
        )
    spend = Spend.objects.create(campaign=brand, source=brand.source, month=month("2026-03"), amount=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Spend.objects.filter(pk=spend.pk).update(source=vk)
    # Moving the campaign to another source moves its spend with it.
    brand.source = vk
    brand.save()
    spend.refresh_from_db()
    assert spend.source_id == vk.pk


# --- the page, per role -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", [*MAY_EDIT, "ceo"])
def test_marketing_executives_and_admins_see_the_list_with_totals(client, request, persona, brand, direct):
    Spend.objects.create(campaign=brand, month=month("2026-03"), amount=Decimal("1000.50"))
    Spend.objects.create(source=direct, month=month("2026-03"), amount=Decimal("200"))
    client.force_login(request.getfixturevalue(persona))
    response = client.get(LIST)
    assert response.status_code == 200
    assert response.context["total"] == Decimal("1200.50")
    assert response.context["count"] == 2
    assert (response.context["form"] is not None) == (persona != "ceo")


@pytest.mark.parametrize("persona", SALES)
def test_sales_roles_get_403_everywhere(client, request, persona, brand):
    spend = Spend.objects.create(campaign=brand, month=month("2026-03"), amount=Decimal(5))
    client.force_login(request.getfixturevalue(persona))
    assert client.get(LIST).status_code == 403
    assert client.post(LIST, {"month": "2026-04", "campaign": brand.pk, "amount": "5"}).status_code == 403
    assert client.post(f"{LIST}{spend.pk}/", {"month": "2026-04", "amount": "7"}).status_code == 403
    assert client.post(f"{LIST}{spend.pk}/delete/").status_code == 403
    assert client.post(f"{LIST}import/", {}).status_code == 403
    assert Spend.objects.get().amount == 5 and Spend.objects.count() == 1


def test_executives_read_but_do_not_write(client, ceo, brand):
    client.force_login(ceo)
    assert client.post(LIST, {"month": "2026-04", "campaign": brand.pk, "amount": "5"}).status_code == 403
    assert not Spend.objects.exists()


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(LIST)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_filters_by_month_and_source(client, marketer, brand, retarget, vk):
    Spend.objects.create(campaign=brand, month=month("2026-03"), amount=1)
    Spend.objects.create(campaign=retarget, month=month("2026-03"), amount=2)
    Spend.objects.create(campaign=retarget, month=month("2026-04"), amount=4)
    client.force_login(marketer)
    assert client.get(LIST, {"month": "2026-03"}).context["total"] == 3
    assert client.get(LIST, {"source": vk.pk}).context["total"] == 6
    assert client.get(LIST, {"month": "2026-04", "source": vk.pk}).context["total"] == 4
    assert client.get(LIST, {"month": "March"}).status_code == 400


def test_a_marketer_adds_edits_and_deletes_spend(client, marketer, brand, direct):
    client.force_login(marketer)
    response = client.post(LIST, {"month": "2026-03", "campaign": brand.pk, "amount": "150000.00"})
    assert response.status_code == 302
    spend = Spend.objects.get()
    assert (spend.month, spend.source, spend.campaign, spend.amount) == (
        month("2026-03"),
        direct,
        brand,
        150000,
    )

    response = client.post(f"{LIST}{spend.pk}/", {"month": "2026-03", "campaign": brand.pk, "amount": "99.5"})
    assert response.status_code == 302
    spend.refresh_from_db()
    assert spend.amount == Decimal("99.50")

    page = client.get(f"{LIST}{spend.pk}/delete/")
    assert page.status_code == 200 and "Delete the spend of Бренд in March 2026" in page.content.decode()
    assert Spend.objects.exists()  # a GET only asks
    assert client.post(f"{LIST}{spend.pk}/delete/").status_code == 302
    assert not Spend.objects.exists()


def test_source_level_spend(client, marketer, direct):
    client.force_login(marketer)
    assert client.post(LIST, {"month": "2026-03", "source": direct.pk, "amount": "10"}).status_code == 302
    assert Spend.objects.get(campaign__isnull=True).source == direct


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"month": "2026-13", "amount": "1"}, "month", "Enter a month, e.g. 03.2026"),
        ({"month": "March", "amount": "1"}, "month", "Enter a month, e.g. 03.2026"),
        ({"month": "2026-03", "amount": "-1"}, "amount", "greater than or equal to 0"),
        ({"month": "2026-03", "amount": "abc"}, "amount", "Enter a number"),
        ({"month": "2026-03", "amount": "1", "campaign": ""}, "source", "Choose a source or a campaign"),
    ],
)
def test_bad_input_answers_400_and_changes_nothing(client, marketer, direct, data, field, message):
    client.force_login(marketer)
    if "source" not in data and field != "source":
        data = {**data, "source": direct.pk}
    response = client.post(LIST, data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not Spend.objects.exists()


def test_a_campaign_of_another_source_is_refused(client, marketer, brand, vk):
    client.force_login(marketer)
    response = client.post(LIST, {"month": "2026-03", "source": vk.pk, "campaign": brand.pk, "amount": "1"})
    assert response.status_code == 400
    assert "belongs to another source" in " ".join(response.context["form"].errors["campaign"])
    assert not Spend.objects.exists()


def test_a_second_row_for_the_same_campaign_or_source_and_month_gets_a_clear_error(
    client, marketer, brand, direct
):
    Spend.objects.create(campaign=brand, month=month("2026-03"), amount=1)
    Spend.objects.create(source=direct, month=month("2026-03"), amount=1)
    client.force_login(marketer)
    for data in ({"campaign": brand.pk}, {"source": direct.pk}):
        response = client.post(LIST, {"month": "2026-03", "amount": "2", **data})
        assert response.status_code == 400
        errors = response.context["form"].errors
        assert errors["month"] == [
            f"Spend for {'Бренд' if 'campaign' in data else direct.name} in March 2026 is already entered; "
            "edit that row instead."
        ]
        assert list(errors) == ["month"]
    # Editing a row into another's month and campaign: the same message.
    other = Spend.objects.create(campaign=brand, month=month("2026-04"), amount=1)
    response = client.post(f"{LIST}{other.pk}/", {"month": "2026-03", "campaign": brand.pk, "amount": "3"})
    assert response.status_code == 400 and "already entered" in str(response.context["form"].errors)
    assert sorted(Spend.objects.values_list("amount", flat=True)) == [1, 1, 1]


def test_the_race_on_save_is_a_form_error_not_a_500(client, marketer, brand, monkeypatch):
    from leads import spend_views

    client.force_login(marketer)
    original = spend_views.SpendForm.save

    def someone_else_saves_first(self, *args, **kwargs):
        Spend.objects.create(campaign=brand, month=month("2026-03"), amount=9)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(spend_views.SpendForm, "save", someone_else_saves_first)
    response = client.post(LIST, {"month": "2026-03", "campaign": brand.pk, "amount": "2"})
    assert response.status_code == 400
    assert "already entered" in str(response.context["form"].non_field_errors())
    assert not Spend.objects.filter(
        amount=2
    ).exists()  # (the other row was made in our rolled-back savepoint)


def test_the_page_has_no_inline_script_and_unique_ids(client, marketer):
    client.force_login(marketer)
    html = client.get(LIST).content.decode()
    assert "<script>" not in html and "onclick" not in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


# --- import -------------------------------------------------------------------------------------

GOOD = (
    "month;source;campaign;amount\n"
    "2026-03;sp_direct;brand;150 000,50\n"
    "2026-03-15;Директ тест;;20000\n"
    "01.04.2026;sp_vk;Ретаргет;3000\n"
)


def upload(client, text, name="spend.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(f"{LIST}import/", {"file": SimpleUploadedFile(name, data)})


def test_import_preview_then_confirm(client, marketer, brand, retarget, direct):
    Spend.objects.create(campaign=brand, month=month("2026-03"), amount=1)
    client.force_login(marketer)
    response = upload(client, GOOD)
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert (job.kind, job.state, job.total, job.ok, job.invalid) == ("spend", "ready", 3, 3, 0)
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and "updates: was 1\u00a0₽" in html and "Import 3 rows" in html
    assert Spend.objects.count() == 1  # nothing written before the confirmation

    response = client.post(f"{LIST}import/{job.pk}/confirm/")
    assert response.status_code == 302 and response["Location"] == LIST
    assert dict(Spend.objects.values_list("month", "amount").filter(campaign=brand)) == {
        month("2026-03"): Decimal("150000.50")
    }
    assert Spend.objects.get(source=direct, campaign__isnull=True).amount == 20000
    assert Spend.objects.get(campaign=retarget).month == month("2026-04")
    job.refresh_from_db()
    assert (job.state, job.created, job.matched) == ("done", 2, 1)
    # A second confirmation imports nothing.
    client.post(f"{LIST}import/{job.pk}/confirm/")
    assert Spend.objects.count() == 3


def test_import_from_xlsx_with_excel_dates(client, marketing_head, brand):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Месяц", "Источник", "Кампания", "Сумма"])
    sheet.append([dt.datetime(2026, 5, 1), "sp_direct", "brand", 1234.5])  # noqa: DTZ001 - Excel dates are naive
    buffer = io.BytesIO()
    book.save(buffer)
    client.force_login(marketing_head)
    upload(client, buffer.getvalue(), name="spend.xlsx")
    job = ImportJob.objects.get()
    assert job.state == "ready", job.errors or job.message
    client.post(f"{LIST}import/{job.pk}/confirm/")
    assert Spend.objects.get().amount == Decimal("1234.50")


def test_every_bad_row_is_reported_and_nothing_is_imported(client, marketer, brand, retarget):
    text = (
        "month,source,campaign,amount\n"
        "2026-03,sp_direct,brand,100\n"
        "2026-03,nowhere,,100\n"  # unknown source
        "2026-03,sp_direct,retarget,100\n"  # a campaign of another source
        "March,sp_direct,,100\n"  # bad month
        "2026-04,sp_direct,brand,-5\n"  # negative
        "2026-03,sp_direct,Бренд,7\n"  # repeats row 2
        "2026-03,sp_direct,ghost,7\n"  # unknown campaign
    )
    client.force_login(marketer)
    upload(client, text)
    job = ImportJob.objects.get()
    assert (job.state, job.total, job.ok, job.invalid) == ("ready", 7, 1, 6)
    messages = {(e["row"], e["field"]): e["message"] for e in job.errors}
    assert messages[(3, "source")].startswith("Unknown source “nowhere”")
    assert (
        messages[(4, "campaign")]
        == "The campaign “Ретаргет” belongs to the source “VK тест”, not “Директ тест”."
    )
    assert messages[(5, "month")].startswith("Not a month")
    assert messages[(6, "amount")] == "The amount cannot be negative."
    assert messages[(7, "")] == "Row 2 already gives spend for this campaign or source and month."
    assert messages[(8, "campaign")].startswith("Unknown campaign “ghost”")
    html = client.get(f"{LIST}import/{job.pk}/").content.decode()
    assert "6 rows have errors" in html and "Import 1 row" not in html
    response = client.post(f"{LIST}import/{job.pk}/confirm/")
    assert response.status_code == 302
    assert not Spend.objects.exists()


def test_a_file_without_the_columns_says_so(client, marketer):
    client.force_login(marketer)
    upload(client, "name,phone\nx,1\n")
    job = ImportJob.objects.get()
    assert job.state == "failed"
    assert "Missing columns: month, source, amount" in client.get(f"{LIST}import/{job.pk}/").content.decode()


def test_an_upload_that_is_not_a_table_answers_400(client, marketer):
    client.force_login(marketer)
    response = upload(client, b"x", name="spend.pdf")
    assert response.status_code == 400
    assert "Upload a .csv or .xlsx file." in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("persona", SALES + ["ceo"])
def test_only_marketing_and_admins_import(client, request, persona, brand):
    client.force_login(request.getfixturevalue(persona))
    assert upload(client, GOOD).status_code == 403
    assert not ImportJob.objects.exists()


def test_someone_elses_job_is_404(client, marketer, marketing_head, brand, retarget):
    client.force_login(marketer)
    upload(client, GOOD)
    job = ImportJob.objects.get()
    client.force_login(marketing_head)
    assert client.get(f"{LIST}import/{job.pk}/").status_code == 404
    assert client.post(f"{LIST}import/{job.pk}/confirm/").status_code == 404
    assert not Spend.objects.exists()


def test_a_lead_import_job_is_not_a_spend_job(client, marketer):
    job = ImportJob.objects.create(kind=ImportJob.Kind.LEADS, created_by=marketer, filename="x.csv")
    client.force_login(marketer)
    assert client.get(f"{LIST}import/{job.pk}/").status_code == 404


def test_the_command_checks_and_imports_the_same_way(tmp_path, brand, retarget, direct):
    path = tmp_path / "spend.csv"
    path.write_text(GOOD)
    out = io.StringIO()
    call_command("import_spend", str(path), "--dry-run", stdout=out)
    assert "rows=3 valid=3 invalid=0 would_update=0; dry run" in out.getvalue()
    assert not Spend.objects.exists()
    call_command("import_spend", str(path), stdout=out)
    assert "created=3 updated=0" in out.getvalue()
    call_command("import_spend", str(path), stdout=out)
    assert "created=0 updated=3" in out.getvalue()
    assert Spend.objects.count() == 3
    assert ImportJob.objects.filter(kind="spend", content__isnull=False).count() == 0


def test_the_command_refuses_a_file_with_errors(tmp_path, brand):
    path = tmp_path / "spend.csv"
    path.write_text("month,source,campaign,amount\n2026-03,sp_direct,brand,-1\n")
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_spend", str(path), stdout=out)
    assert "row 2, amount: The amount cannot be negative." in out.getvalue()
    assert not Spend.objects.exists()
