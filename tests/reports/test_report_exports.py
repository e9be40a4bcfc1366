"""CSV and XLSX exports: header from the report's columns, rows then the total,
formula-looking text neutralised, numbers kept numeric (DESIGN.md, "Exports")."""

import csv
import io
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from openpyxl import load_workbook

from reports.exports import export, filename

HOSTILE = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1:A2)", "\tTAB"]


class FakeReport:
    name = "rejections"
    title = _("Rejections")
    columns = [
        ("leads", _("Leads")),
        ("revenue", _("Revenue")),
        ("romi", "ROMI, %"),
        ("note", "Note"),
        ("reasons", _("Reasons")),
    ]


def result_with(labels):
    rows = [
        {
            "key": index + 1,
            "label": label,
            "leads": 3,
            "revenue": "1234.50",
            "romi": "-12.5",
            "note": label,
            "reasons": {"spam": 2, "other": 1},
            "links": {"leads": "/leads/?x=1"},
        }
        for index, label in enumerate(labels)
    ]
    rows.append(
        {
            "key": None,
            "label": "Кампания «Весна»",
            "leads": 0,
            "revenue": None,
            "romi": None,
            "note": None,
            "reasons": {"not_target": 4},
        }
    )
    total = {
        "leads": 3 * len(labels),
        "revenue": "9999999.99",
        "romi": None,
        "reasons": {"not_target": 4, "other": len(labels), "spam": 2 * len(labels)},
    }
    return {
        "by": "campaign",
        "mode": "cohort",
        "date_from": "2026-01-01",
        "date_to": "2026-01-31",
        "rows": rows,
        "total": total,
    }


@pytest.fixture
def english():
    with translation.override("en"):
        yield


def read_csv(response):
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_neutralises_formulas_and_keeps_numbers(db, english):
    response = export(FakeReport(), result_with(HOSTILE), "csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="rejections-2026-01-01-2026-01-31.csv"'
    lines = read_csv(response)
    assert lines[0] == [
        "Campaign",
        "Leads",
        "Revenue",
        "ROMI, %",
        "Note",
        "Reasons: Not a target client",  # the reasons' names, the total's order
        "Reasons: Other (explain)",
        "Reasons: Spam",
    ]
    for line, hostile in zip(lines[1:], HOSTILE, strict=False):
        assert line[0] == "'" + hostile  # the label is always text
        # A figure column reads a decimal string as a number (money, ratios), so
        # "-2" there is the number -2, not text; anything else is neutralised text.
        assert line[4] == ("-2" if hostile == "-2" else "'" + hostile)
        # Figures stay plain numbers; a negative ratio is a number, not a formula.
        assert line[1:4] == ["3", "1234.50", "-12.5"]
        assert line[5:] == ["", "1", "2"]
    cyrillic = lines[len(HOSTILE) + 1]
    assert cyrillic == ["Кампания «Весна»", "0", "", "", "", "4", "", ""]
    assert lines[-1] == ["Total", str(3 * len(HOSTILE)), "9999999.99", "", "", "4", "5", "10"]
    assert len(lines) == len(HOSTILE) + 3


def test_xlsx_writes_hostile_text_as_strings_and_numbers_as_numbers(db, english):
    response = export(FakeReport(), result_with(HOSTILE), "xlsx")
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"] == 'attachment; filename="rejections-2026-01-01-2026-01-31.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]][:3] == ["Campaign", "Leads", "Revenue"]
    for row, hostile in zip(rows[1:], HOSTILE, strict=False):
        label, note = row[0], row[4]
        assert label.value == hostile
        assert label.data_type == "s"  # never "f": Excel does not evaluate it
        assert label.quotePrefix is True
        if hostile == "-2":
            assert (note.value, note.data_type) == (-2, "n")
        else:
            assert (note.value, note.data_type, note.quotePrefix) == (hostile, "s", True)
        assert [c.data_type for c in row[1:4]] == ["n", "n", "n"]
        assert row[1].value == 3
        assert Decimal(str(row[2].value)) == Decimal("1234.50")
        assert row[3].value == -12.5
        assert [c.value for c in row[5:]] == [None, 1, 2]
    # None is an empty cell; Cyrillic comes back intact; the total is the last row.
    cyrillic = rows[len(HOSTILE) + 1]
    assert cyrillic[0].value == "Кампания «Весна»" and cyrillic[2].value is None
    assert rows[-1][0].value == "Total" and rows[-1][0].font.bold
    assert rows[-1][2].value == 9999999.99 and rows[-1][2].data_type == "n"
    # No cell anywhere in the workbook is a formula.
    assert all(cell.data_type != "f" for row in rows for cell in row)


def test_labels_follow_the_active_language(db):
    with translation.override("ru"):
        lines = read_csv(export(FakeReport(), result_with(["a"]), "csv"))
        expected = [translation.gettext("Campaign"), translation.gettext("Leads")]
        reasons = f"{translation.gettext('Reasons')}: Спам"  # the reason's Russian name
        total = translation.gettext("Total")
    assert lines[0][:2] == expected
    assert lines[0][-1] == reasons
    assert lines[-1][0] == total


def test_filename_is_safe_ascii():
    class Weird:
        name = 'evil"; filename=x\r\n'

    assert filename(Weird(), {"date_from": "2026-01-01", "date_to": "2026-01-31"}, "csv") == (
        "evil-filename-x-2026-01-01-2026-01-31.csv"
    )


def test_kpi_style_result_exports_tiles(db, english):
    class Kpis:
        name = "kpis"
        title = "KPIs"
        columns = [("value", "Value"), ("target", "Target"), ("status", "Status")]

    result = {
        "date_from": "2026-02-01",
        "date_to": "2026-02-28",
        "tiles": [{"code": "cpl", "label": "=CPL", "value": "812.40", "target": None, "status": "green"}],
    }
    lines = read_csv(export(Kpis(), result, "csv"))
    assert lines == [["Indicator", "Value", "Target", "Status"], ["'=CPL", "812.40", "", "green"]]


def test_every_report_exports_in_both_formats(db, client, ceo, rep):
    """Every registered report's real result goes through the export: the header
    matches the report's columns, and no XLSX cell is a formula."""
    from reports.base import all_reports
    from tests.factories import LeadFactory

    LeadFactory(owner=rep, created_at=timezone.now())
    for report in all_reports():
        for user in (ceo, rep):
            client.force_login(user)
            csv_answer = client.get(f"/api/v1/reports/{report.name}/?format=csv")
            assert csv_answer.status_code == 200, (report.name, csv_answer.content[:300])
            assert csv_answer["Content-Disposition"].startswith(f'attachment; filename="{report.name}-')
            lines = list(csv.reader(io.StringIO(csv_answer.content.decode("utf-8-sig"))))
            # A nested figure with no codes (no rejections) has no columns at all.
            assert lines[0][1] == str(report.columns[0][1])
            xlsx_answer = client.get(f"/api/v1/reports/{report.name}/?format=xlsx")
            assert xlsx_answer.status_code == 200, report.name
            sheet = load_workbook(io.BytesIO(xlsx_answer.content)).active
            assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
            assert sheet.max_row == len(lines)
