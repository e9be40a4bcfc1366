"""Importing leads from CSV/XLSX: the importer, the import_leads command and the upload pages."""

import datetime as dt
import io
import zipfile

import openpyxl
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from leads import import_jobs, import_views, importer, tasks
from leads.importer import ImportFileError, import_file, prepare
from leads.models import Assignment, Consent, Contact, ImportJob, InboundRequest, Lead, StageChange
from sla.models import SlaTimer
from tests.factories import LeadFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)  # as in conftest.py: a working Wednesday


GOOD_CSV = (
    "name,phone,email,company,product,comment,utm_source,utm_campaign\n"
    "Ирина Соколова,+7 (916) 123-45-67,Irina@Vector.ru,ООО «Вектор»,crm,Нужна CRM,yandex,crm_brand\n"
    "Пётр Иванов,8 916 765-43-21,,ООО «Ромашка»,,,,\n"
)


def write(tmp_path, content, name="leads.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def xlsx_bytes(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.create_sheet("Other").append(["ignored"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def errors_of(plan):
    return [(e.row, e.field) for e in plan.errors]


# --- reading and mapping -------------------------------------------------------------------


def test_a_comma_csv_goes_through_intake_like_any_lead(tmp_path, source, rep):
    plan, result = import_file(write(tmp_path, GOOD_CSV), source=source)
    assert plan.ok and (plan.total, plan.valid_count) == (2, 2)
    assert (result.created, result.repeats) == (2, 0)
    lead = Lead.objects.select_related("contact").get(contact__email="irina@vector.ru")
    assert lead.contact.phone == "+79161234567" and lead.contact.name == "Ирина Соколова"
    assert (lead.channel, lead.source, lead.product_text) == ("import", source, "crm")
    assert (lead.utm_source, lead.utm_campaign, lead.comment) == ("yandex", "crm_brand", "Нужна CRM")
    assert lead.owner == rep  # distributed: the rep is on shift
    assert SlaTimer.objects.filter(lead=lead).count() == 1  # and the clock runs
    request = InboundRequest.objects.get(lead=lead)
    assert request.channel == "import"
    assert Consent.objects.get(request=request).text_version == "import:leads.csv"
    assert Lead.objects.get(contact__phone="+79167654321").contact.company == "ООО «Ромашка»"


def test_a_semicolon_csv_with_bom_and_russian_headers(tmp_path, source):
    text = "Имя;Телефон;Почта;Компания;Комментарий\nАнна;+79161112233;anna@example.ru;ООО «А»;Перезвонить, пожалуйста\n"
    plan, result = import_file(write(tmp_path, text, encoding="utf-8-sig"), source=source)
    assert plan.ok, plan.errors
    assert result.created == 1
    lead = Lead.objects.get()
    assert lead.contact.name == "Анна" and lead.comment == "Перезвонить, пожалуйста"


def test_a_cp1251_csv_with_russian_headers(tmp_path, source):
    text = "ФИО;Телефон;E-mail;Источник\nСемён Ёлкин;89161112233;;Выставка\n"
    plan, result = import_file(write(tmp_path, text, encoding="cp1251"))
    assert plan.ok, plan.errors
    assert result.created == 1
    lead = Lead.objects.select_related("contact").get()
    assert (lead.contact.name, lead.contact.phone, lead.source) == ("Семён Ёлкин", "+79161112233", source)


def test_an_xlsx_first_sheet_with_numbers_for_phones(tmp_path, source):
    rows = [
        ["Имя", "Телефон", "Почта", "Заметка"],
        ["Ольга", 79161112233, None, "VIP"],
        [None, None, None],
        ["Ян", None, "yan@example.ru", None],
    ]
    plan, result = import_file(write(tmp_path, xlsx_bytes(rows), "leads.xlsx"), source=source)
    assert plan.ok, plan.errors
    assert [r.number for r in plan.rows] == [2, 4]  # the blank row 3 is skipped but keeps the numbering
    assert result.created == 2
    assert Contact.objects.filter(phone="+79161112233", name="Ольга").exists()
    assert InboundRequest.objects.get(contact__name="Ольга").extra == {"Заметка": "VIP"}


def test_historical_dates_from_a_spreadsheet_are_moscow_time(tmp_path, source):
    naive = dt.datetime(2025, 6, 2, 9, 15)  # noqa: DTZ001 — spreadsheets hold naive dates
    rows = [["Телефон", "Дата создания", "Этап"], ["+79161110001", naive, "meeting"]]
    plan, result = import_file(write(tmp_path, xlsx_bytes(rows), "old.xlsx"), source=source, historical=True)
    assert plan.ok, plan.errors
    lead = Lead.objects.get()
    assert lead.created_at == dt.datetime(2025, 6, 2, 6, 15, tzinfo=dt.UTC)
    assert (lead.stage.code, lead.furthest_stage.code) == ("meeting", "meeting")


def test_rows_are_counted_before_reading(tmp_path):
    assert importer.estimate_rows(write(tmp_path, GOOD_CSV)) == 2
    assert importer.estimate_rows(write(tmp_path, GOOD_CSV.rstrip("\n"))) == 2
    rows = [["phone"], *[[f"+7916111000{i}"] for i in range(7)]]
    assert importer.estimate_rows(write(tmp_path, xlsx_bytes(rows), "leads.xlsx")) == 7
    assert importer.estimate_rows(tmp_path / "missing.csv") == 0


def test_the_source_column_takes_a_code_or_a_name_and_the_default_fills_blanks(tmp_path, source):
    other = SourceFactory(code="seo", name="SEO")
    text = "phone,source\n+79161110001,seo\n+79161110002,выставка\n+79161110003,\n+79161110004,nowhere\n"
    plan = prepare(write(tmp_path, text), source=other)
    assert errors_of(plan) == [(5, "source")]
    assert [r.submission.source for r in plan.rows] == [other, source, other]
    plan = prepare(write(tmp_path, "phone\n+79161110001\n"))
    assert errors_of(plan) == [(2, "source")]  # no column and no default


# --- validation: all or nothing ------------------------------------------------------------


def test_bad_rows_are_reported_by_row_and_field_and_nothing_is_written(tmp_path, source):
    text = (
        "name,phone,email,landing_page\n"
        "Good,+79161234567,,\n"
        "Bad phone,12345,,\n"
        "Good too,,good@example.ru,\n"
        "Nothing,,,\n"
        "Bad email and page,,not-an-email,not a url\n"
    )
    plan, result = import_file(write(tmp_path, text), source=source)
    assert result is None
    assert errors_of(plan) == [(3, "phone"), (5, "phone, email"), (6, "email"), (6, "landing_page")]
    assert (plan.total, plan.valid_count, plan.invalid_count) == (5, 2, 3)
    assert str(plan.errors[0]).startswith("row 3, phone: ")
    assert not Lead.objects.exists() and not Contact.objects.exists()


def test_a_failure_mid_import_leaves_nothing_behind(tmp_path, source, monkeypatch):
    real = importer.take_lead
    calls = []

    def failing(sub, **kwargs):
        calls.append(sub)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(sub, **kwargs)

    monkeypatch.setattr(importer, "take_lead", failing)
    with pytest.raises(RuntimeError):
        import_file(write(tmp_path, GOOD_CSV), source=source)
    assert not Lead.objects.exists() and not Contact.objects.exists()


def test_a_dry_run_validates_and_writes_nothing(tmp_path, source):
    plan, result = import_file(write(tmp_path, GOOD_CSV), source=source, dry_run=True)
    assert plan.ok and plan.valid_count == 2 and result is None
    assert not Lead.objects.exists() and not Contact.objects.exists()


def test_duplicates_become_repeat_requests(tmp_path, source):
    existing = LeadFactory(contact__phone="+79160000001", contact__email="known@example.ru")
    text = (
        "phone,email\n"
        "+7 916 123-45-67,\n"
        "8 (916) 123-45-67,\n"  # the same person, written differently
        ",KNOWN@example.ru\n"  # an existing contact with an open lead
    )
    plan, result = import_file(write(tmp_path, text), source=source)
    assert (result.created, result.repeats) == (1, 2)
    assert Lead.objects.count() == 2
    assert InboundRequest.objects.filter(lead=existing, is_repeat=True).count() == 1
    assert InboundRequest.objects.filter(contact__phone="+79161234567").count() == 2


def test_progress_is_reported_in_chunks(tmp_path, source, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_ROWS", 2)
    text = "phone\n" + "".join(f"+7916111000{i}\n" for i in range(5))
    calls = []
    import_file(
        write(tmp_path, text), source=source, progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(0, 5), (2, 5), (4, 5), (5, 5)]


# --- historical imports --------------------------------------------------------------------


HISTORY_CSV = (
    "phone,created_at,stage,owner,first_contact_at,closed_at,rejection_reason,rejection_comment\n"
    "+79161110001,2025-03-03 10:00,lost,rep,2025-03-03T10:20:00+03:00,2025-03-10,price,\n"
    "+79161110002,2025-02-01,deal,rep,,2025-04-01 12:00,,\n"
    "+79161110003,03.02.2025 09:30,qualification,,,,,\n"
    "+79161110004,2025-01-15,,,,,other,Ушли в другую сторону\n"
)


def test_historical_rows_keep_their_times_and_outcomes_and_start_no_clock(tmp_path, source, rep):
    plan, result = import_file(write(tmp_path, HISTORY_CSV), source=source, historical=True)
    assert plan.ok, plan.errors
    assert result.created == 4
    assert not SlaTimer.objects.exists()
    assert not Assignment.objects.exclude(reasons__0__code="imported").exists()  # no distribution

    moscow = timezone.get_default_timezone()
    lost = Lead.objects.select_related("stage", "rejection_reason").get(contact__phone="+79161110001")
    assert lost.created_at == dt.datetime(2025, 3, 3, 7, 0, tzinfo=dt.UTC)  # naive values are Moscow time
    assert lost.first_contact_at == dt.datetime(2025, 3, 3, 7, 20, tzinfo=dt.UTC)
    assert lost.closed_at == dt.datetime(2025, 3, 10, tzinfo=moscow)
    assert (lost.stage.code, lost.furthest_stage.code, lost.rejection_reason.code) == (
        "lost",
        "lead",
        "price",
    )
    assert (lost.owner, lost.team) == (rep, rep.team)
    change = StageChange.objects.get(lead=lost, to_stage__code="lost")
    assert (change.from_stage.code, change.changed_at) == ("lead", lost.closed_at)
    assert InboundRequest.objects.get(lead=lost).received_at == lost.created_at

    won = Lead.objects.get(contact__phone="+79161110002")
    assert (won.stage.code, won.furthest_stage.code) == ("deal", "deal")
    assert won.closed_at == dt.datetime(2025, 4, 1, 12, 0, tzinfo=moscow)

    open_lead = Lead.objects.get(contact__phone="+79161110003")
    assert open_lead.created_at == dt.datetime(2025, 2, 3, 9, 30, tzinfo=moscow)
    assert (open_lead.stage.code, open_lead.closed_at, open_lead.owner) == ("qualification", None, None)

    other = Lead.objects.get(contact__phone="+79161110004")
    assert (other.stage.code, other.rejection_comment) == ("lost", "Ушли в другую сторону")


def test_historical_columns_are_validated(tmp_path, source):
    text = (
        "phone,created_at,stage,owner,rejection_reason,first_contact_at\n"
        "+79161110001,2025-13-45,lead,,,\n"
        "+79161110002,2030-01-01,lead,,,\n"
        "+79161110003,2025-01-01,nowhere,,,\n"
        "+79161110004,2025-01-01,lead,ghost,,\n"
        "+79161110005,2025-01-01,lost,,bored,\n"
        "+79161110006,2025-01-01,meeting,,price,\n"
        "+79161110007,2025-01-01,lost,,other,\n"
        "+79161110008,2025-01-02,lead,,,2025-01-01\n"
    )
    plan = prepare(write(tmp_path, text), source=source, historical=True)
    assert errors_of(plan) == [
        (2, "created_at"),
        (3, "created_at"),
        (4, "stage"),
        (5, "owner"),
        (6, "rejection_reason"),
        (7, "rejection_reason"),
        (8, "rejection_comment"),
        (9, "first_contact_at"),
    ]


def test_historical_columns_need_a_historical_import(tmp_path, source):
    with pytest.raises(ImportFileError, match="historical"):
        prepare(write(tmp_path, "phone,stage\n+79161110001,lost\n"), source=source)


# --- files that cannot be imported ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("leads.csv", b"", "empty"),
        ("leads.csv", b"phone,email\n", "no rows"),
        ("leads.csv", b"name,company\nA,B\n", "phones or emails"),
        ("leads.csv", b"phone\x00\x01\x02binary", "not a text"),
        ("leads.pdf", b"%PDF-1.4 ...", "Unsupported file type"),
        ("leads.xlsx", b"this is not a workbook", "not a readable .xlsx"),
        ("leads.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "not a readable .xlsx"),
        ("leads.csv", b"phone,phone number\n+79161110001,\n", "both mean phone"),
    ],
)
def test_unusable_files_get_a_clear_message(tmp_path, source, name, content, message):
    with pytest.raises(ImportFileError, match=message):
        prepare(write(tmp_path, content, name), source=source)


def test_a_zip_that_is_not_a_workbook(tmp_path, source):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ImportFileError, match="not a readable .xlsx"):
        prepare(write(tmp_path, out.getvalue(), "leads.xlsx"), source=source)


def test_size_and_row_limits(tmp_path, source, monkeypatch):
    monkeypatch.setattr(importer, "MAX_ROWS", 3)
    with pytest.raises(ImportFileError, match="Too many rows"):
        prepare(write(tmp_path, "phone\n" + "+79161110001\n" * 4), source=source)
    monkeypatch.setattr(importer, "MAX_FILE_BYTES", 10)
    with pytest.raises(ImportFileError, match="too large"):
        prepare(write(tmp_path, GOOD_CSV), source=source)


# --- the command ---------------------------------------------------------------------------


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_leads", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_the_command_imports_and_summarises(tmp_path, source):
    output = run(str(write(tmp_path, GOOD_CSV)), "--source", "exhibition")
    assert "rows=2 valid=2 invalid=0 created=2 repeats=0" in output
    assert Lead.objects.count() == 2


def test_the_command_prints_row_errors_and_fails(tmp_path, source):
    path = write(tmp_path, "phone\n+79161110001\n12345\n")
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_leads", str(path), "--source", "Выставка", stdout=out)
    assert out.getvalue().startswith("row 3, phone: ")
    assert not Lead.objects.exists()


def test_the_command_dry_run_writes_nothing(tmp_path, source):
    output = run(str(write(tmp_path, GOOD_CSV)), "--source", "exhibition", "--dry-run")
    assert "rows=2 valid=2 invalid=0; dry run" in output
    assert not Lead.objects.exists()


def test_the_command_historical(tmp_path, source, rep):
    output = run(str(write(tmp_path, HISTORY_CSV)), "--source", "exhibition", "--historical")
    assert "created=4" in output
    assert not SlaTimer.objects.exists()


def test_the_command_refuses_an_unknown_source(tmp_path, source):
    path = write(tmp_path, "phone\n+79161110001\n")
    with pytest.raises(CommandError, match="not a source"):
        call_command("import_leads", str(path), "--source", "nowhere", stdout=io.StringIO())
    out = io.StringIO()
    with pytest.raises(CommandError):  # no source column and no default
        call_command("import_leads", str(path), stdout=out)
    assert out.getvalue().startswith("row 2, source: ")


def test_the_command_reports_an_unusable_file(tmp_path, source):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_leads", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="Unsupported file type"):
        call_command("import_leads", str(write(tmp_path, b"x", "leads.doc")), "--source", "exhibition")


# --- the pages -----------------------------------------------------------------------------


UPLOAD = reverse("leads:import")


@pytest.fixture
def web(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def upload(client, content, name="leads.csv", **data):
    raw = content if isinstance(content, bytes) else content.encode()
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, raw), **data})


def token_of(response) -> str:
    return response.url.rstrip("/").rsplit("/", 1)[1]


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("rep", 403),
        ("ceo", 403),
        ("head", 200),
        ("marketer", 200),
        ("marketing_head", 200),
        ("admin_user", 200),
    ],
)
def test_who_may_open_the_upload_page(web, request, persona, status):
    web.force_login(request.getfixturevalue(persona))
    assert web.get(UPLOAD).status_code == status


def test_anonymous_people_are_sent_to_sign_in(web):
    response = web.get(UPLOAD)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_upload_preview_confirm(web, marketer, source, rep):
    web.force_login(marketer)
    page = web.get(UPLOAD)
    assert b'enctype="multipart/form-data"' in page.content and b"csrfmiddlewaretoken" in page.content
    response = upload(web, GOOD_CSV, source=source.pk)
    assert response.status_code == 302
    preview = web.get(response.url)
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Ирина Соколова" in html and "+7 916 123-45-67" in html and "Import 2 rows" in html
    assert not Lead.objects.exists()  # nothing before the confirmation
    token = token_of(response)
    done = web.post(reverse("leads:import_confirm", args=[token]))
    assert done.status_code == 302 and done.url == reverse("leads:list")
    assert Lead.objects.filter(channel="import").count() == 2
    # A second confirmation finds nothing to import.
    again = web.post(reverse("leads:import_confirm", args=[token]))
    assert again.status_code == 302 and Lead.objects.count() == 2
    assert ImportJob.objects.get(pk=token).content is None  # the file is gone


def test_the_preview_shows_errors_and_offers_no_import(web, head, source):
    web.force_login(head)
    response = upload(web, "Имя;Телефон\nА;+79161110001\nБ;12345\n", source=source.pk)
    html = web.get(response.url).content.decode()
    assert "1 row has errors" in html
    assert '<td class="num">3</td><td>Телефон</td>' in html
    assert "import_confirm" not in html and "/confirm/" not in html


def test_the_form_checks_type_and_size(web, marketer, source, monkeypatch):
    web.force_login(marketer)
    response = upload(web, b"%PDF", name="leads.pdf", source=source.pk)
    # Bad input answers 400 (it was 200 before the imports became jobs).
    assert response.status_code == 400 and "Upload a .csv or .xlsx file." in response.content.decode()
    monkeypatch.setattr(importer, "MAX_FILE_BYTES", 10)
    response = upload(web, GOOD_CSV, source=source.pk)
    assert "The file is too large" in response.content.decode()


def test_an_unreadable_file_gets_a_message_not_a_500(web, marketer, source):
    web.force_login(marketer)
    response = upload(web, b"garbage", name="leads.xlsx", source=source.pk)
    page = web.get(response.url)
    assert page.status_code == 200 and "not a readable .xlsx" in page.content.decode()


def test_someone_elses_upload_is_not_found(web, marketer, marketing_head, source):
    web.force_login(marketer)
    token = token_of(upload(web, GOOD_CSV, source=source.pk))
    web.force_login(marketing_head)
    assert web.get(reverse("leads:import_preview", args=[token])).status_code == 404
    assert web.post(reverse("leads:import_confirm", args=[token])).status_code == 404


@pytest.fixture
def worker(monkeypatch):
    """Jobs the pages queue wait here; the test runs them with the task function,
    as a worker would, and sees every progress report and state."""
    queued, seen = [], []
    monkeypatch.setattr(import_views, "_enqueue", queued.append)
    for name in ("checking", "importing"):
        real = getattr(import_jobs.JobRun, name)

        def spy(self, done, total, _real=real, _name=name):
            seen.append((_name, done))
            return _real(self, done, total)

        monkeypatch.setattr(import_jobs.JobRun, name, spy)
    real_checked, real_finish = import_jobs.JobRun.checked, import_jobs.JobRun.finish

    def checked(self, **kwargs):
        real_checked(self, **kwargs)
        seen.append((self.job.state, None))

    def finish(self, **kwargs):
        real_finish(self, **kwargs)
        seen.append(("done", None))

    monkeypatch.setattr(import_jobs.JobRun, "checked", checked)
    monkeypatch.setattr(import_jobs.JobRun, "finish", finish)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 1)

    def run():
        while queued:
            tasks.run_import_job(queued.pop(0))
        return seen

    return run


@pytest.mark.django_db(transaction=True)
def test_a_large_file_is_checked_and_imported_in_the_background(web, marketer, source, monkeypatch, worker):
    monkeypatch.setattr(import_views, "SYNC_CHECK_MAX_BYTES", 1)
    monkeypatch.setattr(import_views, "SYNC_IMPORT_MAX_ROWS", 1)
    web.force_login(marketer)
    token = token_of(upload(web, GOOD_CSV, source=source.pk))
    preview_url = reverse("leads:import_preview", args=[token])
    progress_url = reverse("leads:import_progress", args=[token])

    waiting = web.get(preview_url).content.decode()  # the check waits for a worker
    assert "Waiting for a worker" in waiting and 'hx-trigger="every 1s"' in waiting
    assert worker() == [("checking", 0), ("checking", 1), ("ready", None)]
    checked = web.get(progress_url, HTTP_HX_REQUEST="true")
    assert checked["HX-Redirect"] == preview_url  # htmx goes on to the preview
    html = web.get(preview_url).content.decode()
    assert "Ирина Соколова" in html and "Import 2 rows" in html
    assert not Lead.objects.exists()

    worker().clear()
    response = web.post(reverse("leads:import_confirm", args=[token]))
    assert response.url == progress_url
    assert worker() == [
        ("checking", 0),
        ("checking", 1),
        ("importing", None),
        ("importing", 0),
        ("importing", 1),
        ("importing", 2),
        ("done", None),
    ]
    assert Lead.objects.count() == 2
    html = web.get(progress_url, HTTP_HX_REQUEST="true").content.decode()
    assert "Imported 2 new leads." in html and "hx-trigger" not in html  # finished: polling stops
    assert ImportJob.objects.get(pk=token).content is None  # the file is gone


@pytest.mark.django_db(transaction=True)
def test_a_background_import_with_bad_rows_writes_nothing(web, marketer, source, monkeypatch, worker):
    monkeypatch.setattr(import_views, "SYNC_IMPORT_MAX_ROWS", 1)
    web.force_login(marketer)
    token = token_of(upload(web, GOOD_CSV, source=source.pk))
    web.get(reverse("leads:import_preview", args=[token]))
    source.delete()  # between the preview and the confirmation
    web.post(reverse("leads:import_confirm", args=[token]))
    assert worker()[-1] == ("failed", None)
    html = web.get(reverse("leads:import_progress", args=[token])).content.decode()
    assert "2 rows have errors, so nothing was imported." in html
    assert not Lead.objects.exists()


def running(job_id, done, total):
    ImportJob.objects.filter(pk=job_id).update(
        state=ImportJob.State.IMPORTING, progress_done=done, progress_total=total, updated_at=timezone.now()
    )


def test_the_progress_endpoint_polls_while_running(web, marketer, source):
    web.force_login(marketer)
    token = token_of(upload(web, GOOD_CSV, source=source.pk))
    url = reverse("leads:import_progress", args=[token])
    running(token, 200, 5000)
    html = web.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="200"' in html and 'max="5000"' in html
    assert "<html" not in html  # a fragment for htmx
    assert "<html" in web.get(url).content.decode()  # the full page without htmx


def test_a_stalled_import_is_reported_as_failed(web, marketer, source, monkeypatch):
    web.force_login(marketer)
    token = token_of(upload(web, GOOD_CSV, source=source.pk))
    running(token, 200, 5000)
    with time_machine.travel(NOW + dt.timedelta(hours=1)):
        html = web.get(reverse("leads:import_progress", args=[token])).content.decode()
    assert "The import stopped; nothing was imported." in html
    # Declared lost for good: a worker waking up late cannot finish it.
    assert ImportJob.objects.get(pk=token).state == ImportJob.State.FAILED


def test_progress_survives_a_broken_side_channel(settings, tmp_path, source):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings.DATA_DIR = blocker  # the progress file cannot be written
    job = import_jobs.create(
        ImportJob.Kind.LEADS,
        user=None,
        filename="leads.csv",
        content=GOOD_CSV.encode(),
        options={"source": source.pk},
        dry_run=False,
    )
    assert import_jobs.run(job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE  # no exception: the import went on


def test_uploads_are_only_for_importers(web, rep, source):
    web.force_login(rep)
    assert upload(web, GOOD_CSV, source=source.pk).status_code == 403
    assert web.post(reverse("leads:import_confirm", args=[1])).status_code == 403


def test_owners_are_found_by_username_whatever_the_case(tmp_path, source, team_a):
    user = UserFactory(username="Sales.Rep", team=team_a)
    plan = prepare(write(tmp_path, "phone,owner\n+79161110001,sales.rep\n"), source=source, historical=True)
    assert plan.rows[0].history.owner == user
