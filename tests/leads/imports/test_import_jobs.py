"""Imports as jobs (ImportJob + the leads.run_import_job task): claimed once,
progress visible before the commit, `done` committed with the rows, the file's
cells taken as typed and exactly as many as the header names, and a job seen
only by its uploader and administrators."""

import datetime as dt
import io
import threading

import openpyxl
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connections
from django.urls import reverse

from leads import import_jobs, import_views, importer, tasks
from leads.models import ImportJob, Lead

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)  # as in conftest.py: a working Wednesday

State = ImportJob.State


def csv_of(n: int) -> bytes:
    return ("phone\n" + "".join(f"+7916{i:07d}\n" for i in range(n))).encode()


def job_for(content: bytes, *, user=None, source=None, dry_run=False, filename="leads.csv", **kwargs):
    return import_jobs.create(
        ImportJob.Kind.LEADS,
        user=user,
        filename=filename,
        content=content,
        options={"source": source.pk if source else None},
        dry_run=dry_run,
        **kwargs,
    )


# --- once ------------------------------------------------------------------------------------


def test_a_task_delivered_twice_imports_once(source):
    job = job_for(csv_of(3), source=source)
    assert tasks.run_import_job(job.pk) is True
    assert tasks.run_import_job(job.pk) is False  # the second delivery finds it done
    job.refresh_from_db()
    assert (job.state, job.created, job.total, job.ok) == (State.DONE, 3, 3, 3)
    assert Lead.objects.count() == 3


def test_a_second_delivery_while_the_first_runs_does_nothing(source, monkeypatch):
    job = job_for(csv_of(3), source=source)
    real, answers = importer.take_lead, []

    def take(sub, **kwargs):
        if not answers:
            answers.append(tasks.run_import_job(job.pk))  # redelivered mid-import
        return real(sub, **kwargs)

    monkeypatch.setattr(importer, "take_lead", take)
    assert tasks.run_import_job(job.pk) is True
    assert answers == [False]
    assert Lead.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_to_other_connections_before_the_commit(source, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_ROWS", 2)
    job = job_for(csv_of(6), source=source)
    real, seen = importer.take_lead, []

    def look():
        # Another thread has its own connection, as a web process would.
        try:
            other = ImportJob.objects.get(pk=job.pk)
            status = import_jobs.status(other)
            # The test database of SQLite is shared in memory with table locks: the
            # leads (written by the open transaction) are counted only on PostgreSQL.
            leads = 0 if connections["default"].vendor == "sqlite" else Lead.objects.count()
            seen.append((status.state, status.done, status.total, leads))
        finally:
            connections.close_all()

    def take(sub, **kwargs):
        outcome = real(sub, **kwargs)
        if Lead.objects.count() == 5:  # inside the import's transaction, after 4 progress-reported rows
            thread = threading.Thread(target=look)
            thread.start()
            thread.join(10)
        return outcome

    monkeypatch.setattr(importer, "take_lead", take)
    tasks.run_import_job(job.pk)
    assert seen == [(State.IMPORTING, 4, 6, 0)]  # progress moved; no row committed yet
    job.refresh_from_db()
    assert (job.state, job.progress_done, job.progress_total) == (State.DONE, 6, 6)
    assert not list(import_jobs.imports_dir().glob("*.progress"))  # the side file is gone


# --- done with the rows ----------------------------------------------------------------------


def test_done_is_committed_with_the_rows(source, monkeypatch):
    real_finish = import_jobs.JobRun.finish

    def finish_then_fail(self, **kwargs):
        real_finish(self, **kwargs)  # `done` is written…
        raise RuntimeError("the commit fails")  # …and then the transaction is lost

    monkeypatch.setattr(import_jobs.JobRun, "finish", finish_then_fail)
    job = job_for(csv_of(3), source=source)
    tasks.run_import_job(job.pk)
    job.refresh_from_db()
    assert not Lead.objects.exists()
    assert (job.state, job.created) == (State.FAILED, 0)  # never `done` without its rows
    assert job.message == "The import failed; nothing was imported."


def test_a_run_that_lost_its_job_cannot_finish_it(source, monkeypatch):
    real_finish = import_jobs.JobRun.finish

    def late(self, **kwargs):
        self.token = "another-run"  # declared lost meanwhile: the claim is no longer ours
        real_finish(self, **kwargs)

    monkeypatch.setattr(import_jobs.JobRun, "finish", late)
    job = job_for(csv_of(3), source=source)
    tasks.run_import_job(job.pk)
    assert not Lead.objects.exists()
    assert ImportJob.objects.get(pk=job.pk).state != State.DONE


# --- what a row holds ------------------------------------------------------------------------


def test_rows_with_missing_or_extra_cells_are_errors(source):
    text = (
        "name,phone,email\n"
        "Анна,+79161110001,anna@example.ru\n"
        "Борис,+79161110002\n"  # a cell short: the email column would silently be empty
        "Вера,+79161110003,vera@example.ru,лишнее\n"  # a value past the last column
        "Глеб,+79161110004,gleb@example.ru,\n"  # an empty extra cell holds nothing: fine
    )
    job = job_for(text.encode(), source=source, dry_run=True)
    tasks.run_import_job(job.pk)
    job.refresh_from_db()
    assert (job.state, job.total, job.ok, job.invalid) == (State.READY, 4, 2, 2)
    assert [(e["row"], e["field"]) for e in job.errors] == [(3, ""), (4, "")]
    assert "2 cells but the header has 3: a cell is missing" in job.errors[0]["message"]
    assert "values past the last named column" in job.errors[1]["message"]


def test_an_xlsx_value_outside_the_named_columns_is_an_error(source):
    book = openpyxl.Workbook()
    book.active.append(["phone", "name"])
    book.active.append(["+79161110001", "Анна"])
    book.active.append(["+79161110002", "Борис", "стрей"])
    out = io.BytesIO()
    book.save(out)
    plan = importer.prepare(out.getvalue(), filename="leads.xlsx", source=source)
    assert [(e.row, e.field) for e in plan.errors] == [(3, "")]
    assert plan.valid_count == 1  # a spreadsheet row's empty trailing cells are not "missing"


FORMULAS = {
    "name": '=HYPERLINK("http://evil.example")',
    "company": "+7 ООО",
    "comment": "-1",
    "product": "@sum",
}


def test_cells_that_look_like_formulas_are_stored_as_typed(source):
    text = "name,phone,company,comment,product\n" + ",".join(
        ['"=HYPERLINK(""http://evil.example"")"', "+79161110001", "+7 ООО", "-1", "@sum"]
    )
    job = job_for(text.encode(), source=source)
    tasks.run_import_job(job.pk)
    lead = Lead.objects.select_related("contact").get()
    stored = {
        "name": lead.contact.name,
        "company": lead.contact.company,
        "comment": lead.comment,
        "product": lead.product_text,
    }
    assert stored == FORMULAS  # exports neutralise them, the data keeps them


def test_xlsx_text_cells_that_look_like_formulas_are_stored_as_typed(source):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["phone", *FORMULAS])
    sheet.append(["+79161110001", *FORMULAS.values()])
    for cell in sheet[2][1:]:
        cell.data_type = "s"  # typed text, not a formula
    out = io.BytesIO()
    book.save(out)
    job = job_for(out.getvalue(), source=source, filename="leads.xlsx")
    tasks.run_import_job(job.pk)
    lead = Lead.objects.select_related("contact").get()
    assert (lead.contact.name, lead.contact.company, lead.comment, lead.product_text) == tuple(
        FORMULAS.values()
    )


# --- the command runs the same job -----------------------------------------------------------


def test_the_command_runs_an_import_job(tmp_path, source):
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_of(2))
    out = io.StringIO()
    call_command("import_leads", str(path), "--source", "exhibition", stdout=out)
    assert "rows=2 valid=2 invalid=0 created=2 repeats=0" in out.getvalue()
    job = ImportJob.objects.get()
    assert (job.created_by, job.state, job.created, job.content) == (None, State.DONE, 2, None)
    call_command("import_leads", str(path), "--source", "exhibition", "--dry-run", stdout=io.StringIO())
    dry = ImportJob.objects.exclude(pk=job.pk).get()
    assert (dry.state, dry.content) == (State.READY, None)  # nobody confirms it: the file is dropped


# --- the pages -------------------------------------------------------------------------------


@pytest.fixture
def web(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def post_file(client, content: bytes, name="leads.csv", **data):
    return client.post(reverse("leads:import"), {"file": SimpleUploadedFile(name, content), **data})


def test_a_small_file_is_checked_in_the_request_and_a_large_one_queued(
    web, marketer, source, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(import_views, "_enqueue", queued.append)
    web.force_login(marketer)
    small = post_file(web, csv_of(2), source=source.pk)
    assert ImportJob.objects.get(pk=small.url.rstrip("/").rsplit("/", 1)[1]).state == State.READY
    monkeypatch.setattr(import_views, "SYNC_CHECK_MAX_BYTES", 10)
    with django_capture_on_commit_callbacks(execute=True):
        large = post_file(web, csv_of(2), source=source.pk)
    job = ImportJob.objects.get(pk=large.url.rstrip("/").rsplit("/", 1)[1])
    assert job.state == State.PENDING and queued == [job.pk]  # queued once the job's row is committed


def test_a_few_rows_of_a_large_file_are_imported_by_the_worker(
    web, marketer, source, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(import_views, "_enqueue", queued.append)
    web.force_login(marketer)
    pk = int(post_file(web, csv_of(2), source=source.pk).url.rstrip("/").rsplit("/", 1)[1])
    monkeypatch.setattr(import_views, "SYNC_CHECK_MAX_BYTES", 10)  # two rows, but "a large file"
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(reverse("leads:import_confirm", args=[pk]))
    assert response.url == reverse("leads:import_progress", args=[pk])
    assert queued == [pk] and not Lead.objects.exists()  # not read in the web process
    tasks.run_import_job(pk)
    assert Lead.objects.count() == 2


@pytest.mark.parametrize(
    ("persona", "page", "confirm"),
    [
        ("marketer", 200, 302),  # the uploader
        ("admin_user", 200, 302),  # administrators see every job (and cannot confirm another's)
        ("marketing_head", 404, 404),
        ("head", 404, 404),
        ("other_head", 404, 404),
        ("rep", 403, 403),  # not an importer at all
        ("ceo", 403, 403),
    ],
)
def test_a_job_is_seen_only_by_its_uploader_and_admins(
    web, request, marketer, source, persona, page, confirm
):
    job = job_for(csv_of(2), user=marketer, source=source, dry_run=True)
    tasks.run_import_job(job.pk)
    web.force_login(request.getfixturevalue(persona))
    for name in ("leads:import_preview", "leads:import_progress"):
        response = web.get(reverse(name, args=[job.pk]))
        assert response.status_code == (302 if name.endswith("progress") and page == 200 else page), name
    assert web.post(reverse("leads:import_confirm", args=[job.pk])).status_code == confirm
    if persona == "marketer":
        assert Lead.objects.count() == 2
    else:
        assert not Lead.objects.exists()
    assert web.get(reverse("leads:import_preview", args=[job.pk + 1000])).status_code in (403, 404)


def test_a_stale_import_is_declared_failed_and_its_late_worker_cannot_finish(source):
    job = job_for(csv_of(2), source=source)
    ImportJob.objects.filter(pk=job.pk).update(state=State.IMPORTING, claim="dead-worker")
    with time_machine.travel(NOW + dt.timedelta(seconds=import_jobs.STALE_SECONDS + 60)):
        status = import_jobs.status(ImportJob.objects.get(pk=job.pk))
    assert status.state == State.FAILED
    lost = import_jobs.JobRun(ImportJob.objects.get(pk=job.pk), "dead-worker")
    with pytest.raises(import_jobs.JobLost):
        lost.finish(created=2, matched=0)
