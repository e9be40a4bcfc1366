"""Every report as CSV or XLSX (`?format=csv|xlsx`), the same figures as its JSON.

One header row (the grouping, then `report.columns`' labels in the active
language), the rows, then the total row. A nested figure such as the
rejections' `reasons: {code: count}` becomes one column per code.

Spreadsheet formula injection (DESIGN.md, "Exports"): labels come from data
people type (campaign names, users' names), and Excel or LibreOffice evaluate a
cell that starts with `=`, `+`, `-` or `@` (and, per OWASP, a leading tab or
carriage return). Such a text cell is written as text: with a leading
apostrophe in CSV, as an explicit string cell with the quote prefix in XLSX.
Figures stay numbers: counts as integers, money and ratios (decimal strings in
the JSON) as numbers, so a spreadsheet can sum them; None is an empty cell.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from django.http import HttpResponse
from django.utils.translation import gettext as _

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# The decimal strings the reports produce for money, ratios and percentages.
_DECIMAL = re.compile(r"-?\d{1,30}(\.\d{1,30})?")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


class Text(str):
    """A cell that is text whatever it looks like (labels, codes)."""


def export(report, result: dict, fmt: str) -> HttpResponse:
    """The report's `result` (what compute() returned) as a CSV or XLSX download."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    header, rows = table(report, result)
    if fmt == "csv":
        body, content_type = _csv(header, rows), CSV_TYPE
    else:
        sheet = str(report.title) or report.name
        body, content_type = _xlsx(header, rows, sheet=sheet, bold_last=bool(result.get("total"))), XLSX_TYPE
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename(report, result, fmt)}"'
    return response


def csv_download(header: list, rows: list[list], name: str) -> HttpResponse:
    """Any table (a header and rows of cells) as a CSV download under the same
    rules as the reports: formula-like text neutralised, numbers as numbers,
    UTF-8 with a BOM. `name` is made safe for the header."""
    response = HttpResponse(_csv(header, rows), content_type=CSV_TYPE)
    stem = _UNSAFE_FILENAME.sub("-", name.removesuffix(".csv")).strip("-") or "export"
    response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
    return response


def filename(report, result: dict, fmt: str) -> str:
    """`<report>-<date_from>-<date_to>.<fmt>`, ASCII letters, digits, dot and dash only."""
    parts = [report.name, result.get("date_from") or "", result.get("date_to") or ""]
    stem = "-".join(_UNSAFE_FILENAME.sub("-", str(part)).strip("-") for part in parts if part)
    return f"{stem or 'report'}.{fmt}"


def table(report, result: dict) -> tuple[list, list[list]]:
    """The header and the body rows (rows, then the total) of an export."""
    rows = list(result.get("rows") or result.get("tiles") or [])
    total = result.get("total")
    records = [*rows, total] if total else rows
    columns = list(report.columns)

    # A nested figure's codes: the total's first (its order is the report's), then any
    # a row has that the total lacks.
    nested: dict[str, list] = {}
    for field, _label in columns:
        codes: list = []
        for record in [total, *rows] if total else rows:
            value = record.get(field)
            if isinstance(value, dict):
                codes.extend(code for code in _codes(value) if code not in codes)
        if codes or any(isinstance(r.get(field), dict) for r in records):
            nested[field] = codes

    header = [Text(_group_label(result))]
    for field, label in columns:
        if field in nested:
            names = _sub_labels(report, field, nested[field])
            header.extend(Text(f"{label}: {names.get(code, code)}") for code in nested[field])
        else:
            header.append(Text(str(label)))

    body = []
    for record in rows:
        body.append(_line(record, record.get("label"), columns, nested))
    if total:
        body.append(_line(total, _("Total"), columns, nested))
    return header, body


def _line(record: dict, label, columns, nested) -> list:
    line = [Text("" if label is None else str(label))]
    for field, _label in columns:
        value = record.get(field)
        if field in nested:
            value = value or {}
            line.extend(_figure(_pick(value, code)) for code in nested[field])
        else:
            line.append(_figure(value))
    return line


def _codes(value: dict) -> list:
    """A nested figure's columns: its codes, or for a figure nested twice (the
    rejections' `dispute_outcomes: {reason: {state: n}}`) (code, sub-code) pairs."""
    if value and all(isinstance(inner, dict) for inner in value.values()):
        return [(code, sub) for code, inner in value.items() for sub in inner]
    return list(value)


def _pick(value: dict, code):
    if isinstance(code, tuple):
        return (value.get(code[0]) or {}).get(code[1])
    return value.get(code)


def _figure(value):
    """A report field's value as a cell: numbers as numbers, the rest as text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return Text(_("yes") if value else _("no"))
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return Decimal(value)
    if isinstance(value, list | tuple):
        return Text(", ".join(str(item) for item in value))
    return Text(str(value))


def _group_label(result: dict) -> str:
    from reports.views import BY_LABELS

    by = result.get("by")
    return str(BY_LABELS.get(by, _("Group"))) if by else str(_("Indicator"))


def _sub_labels(report, field: str, codes: list) -> dict:
    """Column names for a nested figure's codes: the report's own, else the
    rejection reasons' names for `reasons`, else the codes themselves."""
    names: dict = {None: str(_("none"))}
    if hasattr(report, "sub_labels"):
        names.update(report.sub_labels(field, codes))
    elif field == "reasons":
        from leads.models import RejectionReason

        names.update(
            (reason.code, reason.name)
            for reason in RejectionReason.objects.filter(code__in=[c for c in codes if c])
        )
    return names


def neutralise(text: str) -> str:
    """CSV: a text cell that a spreadsheet would read as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv(header, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line in [header, *rows]:
        writer.writerow(
            ["" if cell is None else neutralise(cell) if isinstance(cell, str) else cell for cell in line]
        )
    # The BOM makes Excel read the file as UTF-8 (Cyrillic labels) instead of the ANSI code page.
    return out.getvalue().encode("utf-8-sig")


def _xlsx(header, rows, sheet: str, bold_last: bool) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook()
    worksheet = workbook.active
    # A sheet title may not hold []:*?/\ and is at most 31 characters.
    worksheet.title = re.sub(r"[\[\]:*?/\\]", " ", sheet)[:31] or "report"
    bold = Font(bold=True)
    for row_index, line in enumerate([header, *rows], start=1):
        for column_index, value in enumerate(line, start=1):
            cell = worksheet.cell(row=row_index, column=column_index)
            if isinstance(value, str):
                # Assigning a string starting with "=" makes openpyxl write a formula;
                # an explicit string type (and Excel's quote prefix, kept when the cell
                # is edited) makes it text whatever it starts with.
                cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
                cell.data_type = "s"
                if value.startswith(FORMULA_PREFIXES):
                    cell.quotePrefix = True
            else:
                cell.value = value
            if row_index == 1 or (bold_last and row_index == len(rows) + 1):
                cell.font = bold  # the header and the total row
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
