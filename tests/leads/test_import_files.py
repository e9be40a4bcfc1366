"""Files that must not hurt the importer (issue #11, item 11): an XLSX zip
bomb is refused from the zip's directory before openpyxl reads a byte, fast;
a corrupt workbook and a CSV in an unknown encoding get a clear message, never
a 500."""

import io
import time
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from leads import importer
from leads.importer import ImportFileError, prepare
from leads.models import ImportJob, Lead
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the pages answer in English
    return client


@pytest.fixture
def source(db):
    return SourceFactory(code="exhibition", name="Выставка")


def workbook(rows=(("phone",), ("+79161110001",))) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def bomb(megabytes: int = 8) -> bytes:
    """A real workbook whose shared strings unpack to `megabytes` MB of one
    repeated string: a few kB on disk (the attack of the issue, smaller)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(workbook())) as good,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bad,
    ):
        for part in good.infolist():
            if part.filename != "xl/sharedStrings.xml":
                bad.writestr(part, good.read(part))
        item = "<si><t>" + "A" * 1000 + "</t></si>"
        count = megabytes * 1024
        bad.writestr(
            "xl/sharedStrings.xml",
            f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{count}" '
            f'uniqueCount="{count}">' + item * count + "</sst>",
        )
    return out.getvalue()


@pytest.fixture
def no_openpyxl(monkeypatch):
    """Proves the refusal comes before openpyxl opens the workbook."""

    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl must not read this file")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


def test_a_zip_bomb_is_refused_fast_before_openpyxl_reads_it(source, no_openpyxl):
    data = bomb()
    assert len(data) < 100 * 1024  # tens of kB that unpack to 8 MB
    started = time.perf_counter()
    with pytest.raises(ImportFileError, match="unpacks to far more data than its size suggests"):
        prepare(data, filename="leads.xlsx", source=source)
    assert time.perf_counter() - started < 1.0


def test_the_part_size_total_and_count_limits(source, monkeypatch):
    data = workbook()
    assert prepare(data, filename="leads.xlsx", source=source).valid_count == 1
    monkeypatch.setattr(importer, "XLSX_MAX_PART_BYTES", 500)  # the sheet's XML is larger
    with pytest.raises(ImportFileError, match="unpacks to far more data"):
        prepare(data, filename="leads.xlsx", source=source)
    monkeypatch.setattr(importer, "XLSX_MAX_PART_BYTES", 64 * 1024 * 1024)
    monkeypatch.setattr(importer, "XLSX_MAX_TOTAL_BYTES", 2000)
    with pytest.raises(ImportFileError, match="unpacks to far more data"):
        prepare(data, filename="leads.xlsx", source=source)
    monkeypatch.setattr(importer, "XLSX_MAX_TOTAL_BYTES", 128 * 1024 * 1024)
    monkeypatch.setattr(importer, "XLSX_MAX_PARTS", 3)
    with pytest.raises(ImportFileError, match="too many parts"):
        prepare(data, filename="leads.xlsx", source=source)


def test_a_small_well_packed_part_is_not_a_bomb(source):
    # A tiny part may compress far beyond the ratio (a blank sheet's styles):
    # the ratio applies only from XLSX_RATIO_FROM_BYTES on.
    rows = [("phone", "note"), *[(f"+7916111{i:04d}", "same text " * 20) for i in range(200)]]
    assert prepare(workbook(rows), filename="leads.xlsx", source=source).valid_count == 200


def test_the_upload_refuses_a_bomb_with_a_400(client, marketer, source, no_openpyxl):
    client.force_login(marketer)
    data = bomb()
    client.get(reverse("leads:import"))  # warm: the first request of a process loads the templates
    started = time.perf_counter()
    response = client.post(
        reverse("leads:import"), {"file": SimpleUploadedFile("leads.xlsx", data), "source": source.pk}
    )
    assert time.perf_counter() - started < 1.5
    assert response.status_code == 400
    assert "unpacks to far more data than its size suggests" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_command_refuses_a_bomb(tmp_path, source, no_openpyxl):
    path = tmp_path / "leads.xlsx"
    path.write_bytes(bomb())
    with pytest.raises(CommandError, match="unpacks to far more data"):
        call_command("import_leads", str(path), "--source", "exhibition")


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04 this is not really a zip",  # a zip's signature and garbage
        workbook()[:2000],  # a workbook cut short
    ],
    ids=["signature-only", "truncated"],
)
def test_a_corrupt_workbook_gets_a_clear_message(client, marketer, source, content):
    with pytest.raises(ImportFileError, match="not a readable .xlsx"):
        prepare(content, filename="leads.xlsx", source=source)
    client.force_login(marketer)
    response = client.post(
        reverse("leads:import"), {"file": SimpleUploadedFile("leads.xlsx", content), "source": source.pk}
    )
    assert response.status_code == 400 and "not a readable .xlsx" in response.content.decode()


def test_a_zip_that_is_not_a_workbook_fails_its_job_cleanly(client, marketer, source):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    client.force_login(marketer)
    response = client.post(
        reverse("leads:import"),
        {"file": SimpleUploadedFile("leads.xlsx", out.getvalue()), "source": source.pk},
    )
    page = client.get(response.url)
    assert page.status_code == 200 and "not a readable .xlsx" in page.content.decode()
    assert ImportJob.objects.get().state == ImportJob.State.FAILED


def test_a_csv_in_an_unknown_encoding_gets_a_clear_message(client, marketer, source):
    content = b"phone,name\n+79161110001,\x98\x98\n"  # neither UTF-8 nor Windows-1251
    with pytest.raises(ImportFileError, match="Unknown text encoding"):
        prepare(content, filename="leads.csv", source=source)
    client.force_login(marketer)
    response = client.post(
        reverse("leads:import"), {"file": SimpleUploadedFile("leads.csv", content), "source": source.pk}
    )
    page = client.get(response.url)
    assert (
        page.status_code == 200 and "Unknown text encoding: save the file as UTF-8." in page.content.decode()
    )
    assert not Lead.objects.exists()


def test_a_utf16_csv_from_excel_is_read(source):
    content = "phone\tname\n+79161110001\tАнна\n".encode("utf-16")
    plan = prepare(content, filename="leads.txt", source=source)
    assert plan.ok and plan.rows[0].submission.name == "Анна"
