"""Importing leads from a CSV or XLSX file.

Two steps. `prepare` reads the file, maps its headers to intake fields and
validates every row with the rules of the intake API (`IntakeSerializer`), so a
file gets exactly the checks a form would. `execute` writes a plan that has no
errors, all rows in one transaction: each row goes through `take_lead` with the
`import` channel, so de-duplication, consent, distribution and the SLA clock
work as for any other lead. Either every row is imported or none is.

A historical import (`historical=True`) brings in past leads with their own
timestamps and outcomes: no distribution, no SLA clock; owner, stage, closing
time and rejection are set as they were, with a StageChange at the historical time.

Who imports decides what a file may do (`Scope`): only administrators import
historical leads; a head of sales imports into their own team (owners from
that team, rows without one wait in its queue); marketing imports new leads
without owners (they go to distribution). `actor=None` is the management
command, run by whoever runs the server: it has an administrator's scope.
Cells are stored as typed, also those starting with = + - @: it is exports
that neutralise formulas.

In the web, and in the command, an import is an `ImportJob` run by
`run_job` (leads.import_jobs claims it and reports its progress).

Row numbers are those a spreadsheet shows: the header is row 1, the first data
row is row 2 (blank rows count but are skipped).
"""

import csv
import dataclasses
import datetime as dt
import io
import logging
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from leads.assignment import assign_waiting
from leads.choices import EntryChannel, StageCode, StageKind
from leads.contacts import format_phone
from leads.intake import Submission, take_lead
from leads.intake_api import submission_from
from leads.models import Assignment, Lead, RejectionReason, Source, Stage, StageChange
from leads.serializers import IntakeSerializer
from revops import display
from revops.roles import Role
from sla.clock import recompute_running
from sla.models import SlaTimer

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
CHUNK_ROWS = 200  # rows written between two progress reports
PREVIEW_ROWS = 20
EXTENSIONS = (".csv", ".txt", ".xlsx")
# An XLSX file is a zip of XML parts, and openpyxl reads the shared strings
# whole: a 78 KB file whose strings unpack to 30 MB held a request for 28 s.
# The zip's directory says how large each part unpacks to (zipfile never
# inflates a part past its declared size: a lying entry fails its CRC), so the
# parts are checked from it before openpyxl reads a byte. A legitimate sheet of
# MAX_ROWS rows unpacks to a few tens of MB at a ratio well under 100.
XLSX_MAX_PARTS = 500
XLSX_MAX_PART_BYTES = 64 * 1024 * 1024
XLSX_MAX_TOTAL_BYTES = 128 * 1024 * 1024
XLSX_MAX_RATIO = 100  # uncompressed / compressed, for parts larger than XLSX_RATIO_FROM_BYTES
XLSX_RATIO_FROM_BYTES = 1024 * 1024

ProgressCallback = Callable[[int, int], None]


def _norm(header) -> str:
    text = str(header or "").replace("\ufeff", "").strip().lower().replace("ё", "е")
    for char in "-_.:":
        text = text.replace(char, " ")
    return " ".join(text.split())


# Intake fields (the API's names) and the headers people write for them.
FIELD_ALIASES = {
    "name": ("name", "full name", "имя", "фио", "контакт", "контактное лицо"),
    "phone": ("phone", "phone number", "телефон", "тел", "номер телефона", "мобильный"),
    "email": ("email", "e-mail", "mail", "почта", "эл почта", "электронная почта"),
    "company": ("company", "компания", "организация"),
    "product": ("product", "продукт", "товар", "услуга"),
    "comment": ("comment", "комментарий", "сообщение", "примечание"),
    "utm_source": ("utm_source",),
    "utm_medium": ("utm_medium",),
    "utm_campaign": ("utm_campaign",),
    "utm_content": ("utm_content",),
    "utm_term": ("utm_term",),
    "landing_page": ("landing_page", "landing", "посадочная страница"),
    # The separate consent to advertising (38-FZ art. 18): yes/no, and its text's version.
    "marketing_consent": (
        "marketing_consent",
        "marketing consent",
        "согласие на рекламу",
        "согласие на рассылку",
    ),
    "marketing_consent_text": (
        "marketing_consent_text",
        "версия согласия на рекламу",
        "версия согласия на рассылку",
    ),
    "source": ("source", "источник"),
    # Who gets the lead: a sales rep within the importer's scope (see Scope).
    "owner": ("owner", "ответственный", "менеджер"),
}
# Columns only a historical import reads.
HISTORICAL_ALIASES = {
    "created_at": ("created_at", "created", "дата создания", "дата обращения", "дата заявки", "создан"),
    "stage": ("stage", "этап", "стадия"),
    "furthest_stage": ("furthest_stage", "самый дальний этап"),
    "first_contact_at": ("first_contact_at", "первый контакт", "дата первого контакта"),
    "stage_changed_at": ("stage_changed_at", "closed_at", "дата смены этапа", "дата закрытия"),
    "rejection_reason": ("rejection_reason", "причина отказа"),
    "rejection_comment": ("rejection_comment", "комментарий к отказу"),
}
_ALIAS_TO_FIELD = {
    _norm(alias): name
    for table in (FIELD_ALIASES, HISTORICAL_ALIASES)
    for name, aliases in table.items()
    for alias in aliases
}
INTAKE_FIELDS = tuple(name for name in FIELD_ALIASES if name not in ("source", "owner"))


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why, for people."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass
class RowError:
    row: int
    field: str  # an intake field name, "phone, email" for a shared message, or "" for the row
    message: str

    def __str__(self):
        where = f"row {self.row}, {self.field}" if self.field else f"row {self.row}"
        return f"{where}: {self.message}"


@dataclass
class History:
    """What a historical row says happened to its lead."""

    created_at: dt.datetime
    stage: Stage
    furthest_stage: Stage
    stage_changed_at: dt.datetime
    owner: object = None
    first_contact_at: dt.datetime | None = None
    rejection_reason: RejectionReason | None = None
    rejection_comment: str = ""


@dataclass
class ImportRow:
    number: int
    submission: Submission
    history: History | None = None


@dataclass
class Plan:
    """A read and validated file: what would be imported, and what is wrong."""

    filename: str
    historical: bool
    columns: dict[str, str]  # intake field → the header as written in the file
    extra_columns: list[str]  # unknown headers: their values go to the request's extra data
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total: int = 0  # data rows (blank rows not counted)
    team_id: int | None = None  # a head's import: new leads without an owner go to this team

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def invalid_count(self) -> int:
        return len({e.row for e in self.errors})

    @property
    def valid_count(self) -> int:
        return len(self.rows)

    def preview(self, rows: int = 20) -> dict:
        """The first valid rows as they will be imported, and the columns kept
        as extra data: what a person checks before importing (JSON-safe: a job keeps it)."""
        shown = []
        for row in self.rows[:rows]:
            sub, history = row.submission, row.history
            owner = history.owner if history else sub.owner
            shown.append(
                {
                    "number": row.number,
                    "name": sub.name,
                    "phone": format_phone(sub.phone),
                    "email": sub.email,
                    "company": sub.company,
                    "source": sub.source.name,
                    "product": sub.product,
                    "created_at": sub.received_at.isoformat() if sub.received_at else None,
                    "stage": str(history.stage.name) if history else "",
                    "owner": str(owner or ""),
                }
            )
        return {"extra_columns": self.extra_columns, "rows": shown, "owners": "owner" in self.columns}

    def error_rows(self) -> list[dict]:
        """Every row error, with the column as the file names it."""
        column = self.columns.get
        return [
            {
                "row": e.row,
                "field": e.field,
                "column": ", ".join(column(name, name) for name in e.field.split(", ")) if e.field else "",
                "message": e.message,
            }
            for e in self.errors
        ]


@dataclass
class Result:
    created: int = 0  # new leads
    repeats: int = 0  # requests that joined a contact's open lead

    @property
    def total(self) -> int:
        return self.created + self.repeats


# --- reading ---------------------------------------------------------------------------------


FileSource = Path | bytes


def _load(source: FileSource) -> bytes:
    """The file's bytes (a job keeps them in the database; the command passes a path)."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        try:
            if Path(source).stat().st_size > MAX_FILE_BYTES:
                raise ImportFileError(_too_large())
            data = Path(source).read_bytes()
        except OSError:
            raise ImportFileError(_("The file cannot be read.")) from None
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(_too_large())
    if not data:
        raise ImportFileError(_("The file is empty."))
    return data


def _too_large():
    return _("The file is too large: at most %(mb)s MB.") % {"mb": MAX_FILE_BYTES // (1024 * 1024)}


def is_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def check_xlsx(data: bytes) -> int:
    """Refuse a workbook whose parts would unpack to too much (a zip bomb), from
    the zip's directory alone; returns the total unpacked size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        logger.warning("Unreadable XLSX import: %s", type(exc).__name__)
        raise ImportFileError(_("This is not a readable .xlsx file.")) from None
    if len(parts) > XLSX_MAX_PARTS:
        raise ImportFileError(
            _("This workbook has too many parts (%(n)s; at most %(max)s): save it again as a plain .xlsx.")
            % {"n": len(parts), "max": XLSX_MAX_PARTS}
        )
    total = 0
    for part in parts:
        too_big = part.file_size > XLSX_MAX_PART_BYTES
        packed_too_tight = part.file_size > XLSX_RATIO_FROM_BYTES and part.file_size > XLSX_MAX_RATIO * max(
            part.compress_size, 1
        )
        total += part.file_size
        if too_big or packed_too_tight or total > XLSX_MAX_TOTAL_BYTES:
            # Only sizes: the part's name is the file's own text.
            logger.warning(
                "XLSX import refused: a part unpacks to %s bytes from %s (total so far %s)",
                part.file_size,
                part.compress_size,
                total,
            )
            raise ImportFileError(
                _(
                    "This workbook unpacks to far more data than its size suggests (over %(mb)s MB), "
                    "so it is not read. Save it again as .xlsx or CSV, or split it."
                )
                % {"mb": (XLSX_MAX_PART_BYTES if too_big else XLSX_RATIO_FROM_BYTES) // (1024 * 1024)}
            )
    return total


def unpacked_size(data: bytes) -> int:
    """How much text reading the file means: its size, or an XLSX file's
    unpacked size (raises ImportFileError for an unreadable or bomb-like workbook)."""
    return check_xlsx(data) if is_zip(data) else len(data)


def read_table(source: FileSource, filename: str = "") -> tuple[list, Iterator[tuple[int, list]]]:
    """The header and an iterator of (row number, cells) of a CSV or XLSX file."""
    headers, rows, _estimate, _csv = _open_table(source, filename)
    return headers, rows


def _open_table(source: FileSource, filename: str) -> tuple[list, Iterator[tuple[int, list]], int, bool]:
    """The header, the rows, an estimate of the data rows and whether it is a CSV file."""
    name = (filename or (source.name if isinstance(source, Path) else "")).lower()
    data = _load(source)
    if is_zip(data):
        rows, estimate = _xlsx_rows(data)
    elif data.startswith(b"\xd0\xcf\x11\xe0") or name.endswith((".xls", ".xlsx")):
        raise ImportFileError(_("This is not a readable .xlsx file. Save it as .xlsx or CSV and try again."))
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(data)
        estimate = max(data.count(b"\n") + (0 if data.endswith(b"\n") else 1) - 1, 0)
    else:
        raise ImportFileError(_("Unsupported file type: upload a .csv or .xlsx file."))
    numbered = _guarded(enumerate(rows, start=1), name)
    first = next(numbered, None)
    if first is None:
        raise ImportFileError(_("The file is empty."))
    return list(first[1]), numbered, estimate, not is_zip(data)


def _guarded(rows, name):
    """Rows as they are read; a broken file gives a message, never a 500."""
    try:
        for number, cells in rows:
            if number > MAX_ROWS * 2:  # blank rows are skipped, but not without end
                raise ImportFileError(
                    _("Too many rows: at most %(n)s per file.") % {"n": display.number(MAX_ROWS)}
                )
            yield number, cells
    except ImportFileError:
        raise
    except Exception as exc:  # the message may quote the file's content: log only the kind
        logger.warning("Unreadable import file %s: %s", name, type(exc).__name__)
        raise ImportFileError(_("The file cannot be read.")) from None


def estimate_rows(source: FileSource, filename: str = "") -> int:
    """A quick count of the data rows, before reading them: exact for CSV files
    without line breaks inside cells, the sheet's recorded size for XLSX."""
    try:
        _headers, rows, estimate, _csv = _open_table(source, filename)
        rows.close()
        return estimate
    except Exception:  # read_table will say what is wrong with the file
        return 0


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" is UTF-16
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportFileError(_("Unknown text encoding: save the file as UTF-8.")) from None
    if b"\x00" in data[:4096]:
        raise ImportFileError(_("This is not a text (CSV) file."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251")
    except UnicodeDecodeError:
        raise ImportFileError(_("Unknown text encoding: save the file as UTF-8.")) from None


def _csv_rows(data: bytes) -> Iterator[list]:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _xlsx_rows(data: bytes) -> tuple[Iterator[list], int]:
    import openpyxl  # imported here: only XLSX files need it

    check_xlsx(data)  # before openpyxl reads the shared strings
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        max_row = sheet.max_row
    except Exception as exc:  # not a workbook, or a broken one
        logger.warning("Unreadable XLSX import: %s", type(exc).__name__)
        raise ImportFileError(_("This is not a readable .xlsx file.")) from None

    def rows():
        try:
            yield from sheet.iter_rows(values_only=True)
        finally:
            book.close()

    estimate = max(max_row - 1, 0) if max_row else len(data) // 50
    return rows(), estimate


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers stored as numbers in a spreadsheet
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


# --- validating ------------------------------------------------------------------------------


def _map_headers(headers: list, historical: bool) -> tuple[dict[int, str], dict[str, str], dict[int, str]]:
    """Column index → field, field → header as written, and index → unknown header."""
    by_index, columns, extra = {}, {}, {}
    for index, header in enumerate(headers):
        label = _text(header)
        if not label:
            continue
        name = _ALIAS_TO_FIELD.get(_norm(label))
        if name is None:
            extra[index] = label
            continue
        if name in HISTORICAL_ALIASES and not historical:
            raise ImportFileError(
                _(
                    "The column “%(column)s” is read only by a historical import. Choose a historical import or remove the column."
                )
                % {"column": label}
            )
        if name in columns:
            raise ImportFileError(
                _("The columns “%(a)s” and “%(b)s” both mean %(field)s; keep one.")
                % {"a": columns[name], "b": label, "field": name}
            )
        by_index[index] = name
        columns[name] = label
    if "phone" not in columns and "email" not in columns:
        raise ImportFileError(
            _(
                "No column with phones or emails. Name the columns e.g. “phone” and “email” (or «Телефон», «Почта»)."
            )
        )
    return by_index, columns, extra


@dataclass(frozen=True)
class Scope:
    """What the person importing may put in a file.

    - administrators (and the management command, `actor=None`, run by whoever
      runs the server): historical imports, and any active sales rep of a team
      as an owner;
    - a head of sales: new leads only, into their own team: an owner must be a
      rep of that team, and rows without one wait in that team's queue;
    - marketing: new leads only and no owners: distribution gives them out.
    """

    actor: object = None

    @property
    def is_admin(self) -> bool:
        return self.actor is None or self.actor.is_superuser or self.actor.role == Role.ADMIN

    @property
    def team_id(self) -> int | None:
        """The team every new lead of this import goes to (None: routing decides)."""
        if self.is_admin or self.actor.role != Role.SALES_HEAD:
            return None
        return self.actor.team_id

    def check(self, historical: bool) -> None:
        """Refuse what this person may not import at all."""
        actor = self.actor
        if actor is not None and not actor.is_active:
            raise ImportFileError(_("This account is no longer active."))
        if historical and not self.is_admin:
            raise ImportFileError(_("Only administrators import historical leads."))
        if self.is_admin:
            return
        if actor.role == Role.SALES_HEAD:
            if actor.team_id is None:
                raise ImportFileError(_("You have no team to import leads into: ask an administrator."))
        elif actor.role not in (Role.MARKETER, Role.MARKETING_HEAD):
            raise ImportFileError(_("You may not import leads."))

    def owner_error(self, user, name: str) -> str | None:
        """Why `user` (found by `name`, None if no active user has it) cannot own
        an imported lead; None if they can."""
        if not self.is_admin and self.actor.role != Role.SALES_HEAD:
            return str(_("Leave the owner empty: marketing's leads go to distribution."))
        if user is None:
            return str(_("No active user “%(value)s”.") % {"value": name})
        if user.role != Role.REP or user.team_id is None:
            return str(_("“%(value)s” is not a sales rep of a team.") % {"value": name})
        if self.team_id is not None and user.team_id != self.team_id:
            return str(_("“%(value)s” is not in your team.") % {"value": name})
        return None


class _Lookups:
    """Reference data read once per file, not once per row."""

    def __init__(self, default_source: Source | None, scope: Scope):
        self.default_source = default_source
        self.scope = scope
        # One serializer validates every row (the API's rules): building one per
        # row would copy its fields 50,000 times.
        self.serializer = IntakeSerializer(strict=False)
        self.sources = {}
        for source in Source.objects.all():
            self.sources.setdefault(source.code, source)
            self.sources.setdefault(source.name.strip().lower(), source)
        self.stages = {s.code: s for s in Stage.objects.all()}
        self.reasons = {r.code: r for r in RejectionReason.objects.all()}
        self.users: dict[str, object] = {}
        self._users_loaded = False

    def user(self, username: str):
        if not self._users_loaded:
            self.users = {u.username.lower(): u for u in get_user_model().objects.filter(is_active=True)}
            self._users_loaded = True
        return self.users.get(username.lower())

    def source(self, value: str) -> Source | None:
        if not value:
            return self.default_source
        return self.sources.get(value) or self.sources.get(value.strip().lower())


def prepare(
    file: FileSource,
    *,
    filename: str = "",
    source: Source | None = None,
    historical: bool = False,
    progress: ProgressCallback | None = None,
    now: dt.datetime | None = None,
    actor=None,
) -> Plan:
    """Read and validate the whole file (a path or its bytes) as `actor` would
    import it (None: the command, an administrator's scope). Raises
    ImportFileError when the file as a whole is unusable or not this person's
    to import; problems of single rows are collected in `plan.errors`.
    `progress(rows checked, estimated rows)` is called every CHUNK_ROWS rows;
    `source` fills rows without one."""
    scope = Scope(actor)
    scope.check(historical)
    filename = filename or (file.name if isinstance(file, Path) else "")
    headers, rows, estimate, strict = _open_table(file, filename)
    by_index, columns, extra_columns = _map_headers(headers, historical)
    # Cells past the last named column hold nothing we read: a value there means
    # the row's cells slid (a stray separator or quote).
    width = max((i for i, h in enumerate(headers) if _text(h)), default=-1) + 1
    plan = Plan(filename, historical, columns, list(extra_columns.values()), team_id=scope.team_id)
    lookups = _Lookups(source, scope)
    now = now or timezone.now()
    consent_text = f"import:{filename}"[:100]
    for number, cells in rows:
        if progress and number % CHUNK_ROWS == 0:
            progress(plan.total, max(estimate, plan.total))
        if not any(_text(c) for c in cells):
            continue
        plan.total += 1
        if plan.total > MAX_ROWS:
            raise ImportFileError(
                _("Too many rows: at most %(n)s per file.") % {"n": display.number(MAX_ROWS)}
            )
        shape_error = _shape_error(cells, width, strict)
        if shape_error:
            plan.errors.append(RowError(number, "", shape_error))
            continue
        values = {name: cells[i] for i, name in by_index.items() if i < len(cells)}
        extra = {
            label: _text(cells[i]) for i, label in extra_columns.items() if i < len(cells) and _text(cells[i])
        }
        row, errors = _validate_row(number, values, extra, lookups, consent_text, historical, now)
        if errors:
            plan.errors.extend(errors)
        else:
            plan.rows.append(row)
    if plan.total == 0:
        raise ImportFileError(_("The file has a header but no rows to import."))
    return plan


def _shape_error(cells, width: int, strict: bool) -> str:
    """A row with fewer cells than the header (a CSV row cut short: a
    spreadsheet's empty cells are simply empty) or with values past its last
    column is not taken."""
    if strict and len(cells) < width:
        return str(
            _("This row has %(found)s cells but the header has %(expected)s: a cell is missing.")
            % {"found": len(cells), "expected": width}
        )
    if any(_text(c) for c in cells[width:]):
        return str(
            _(
                "This row has values past the last named column (%(found)s cells, the header has %(expected)s): "
                "check the separators and quotes."
            )
            % {"found": len(cells), "expected": width}
        )
    return ""


def _validate_row(number, values, extra, lookups, consent_text, historical, now):
    errors: dict[str, list[str]] = {}
    data = {name: _text(values.get(name)) for name in INTAKE_FIELDS}
    data.update(consent=True, consent_text=consent_text, extra=extra)
    _marketing_consent(data, consent_text)
    validated = None
    try:
        validated = lookups.serializer.run_validation(data)
    except serializers.ValidationError as exc:
        for name, messages in exc.detail.items():
            errors.setdefault(name, []).extend(str(m) for m in messages)
    source_value = _text(values.get("source"))
    source = lookups.source(source_value)
    if source is None:
        if source_value:
            errors.setdefault("source", []).append(
                str(_("Unknown source “%(value)s”.") % {"value": source_value})
            )
        else:
            errors.setdefault("source", []).append(
                str(_("No source: fill the column or choose a default source."))
            )
    owner_name = _text(values.get("owner"))
    owner = lookups.user(owner_name) if owner_name else None
    if owner_name:
        problem = lookups.scope.owner_error(owner, owner_name)
        if problem:
            errors.setdefault("owner", []).append(problem)
    history = _validate_history(values, lookups, now, errors, owner) if historical else None
    if errors:
        return None, _row_errors(number, errors)
    received_at = history.created_at if history else None
    submission = dataclasses.replace(
        submission_from(validated, source, received_at=received_at),
        channel=EntryChannel.IMPORT,
    )
    if history is None and owner is not None:
        # Straight to the chosen rep, as a lead typed in by hand (the clock runs on their team's calendar).
        submission = dataclasses.replace(submission, owner=owner, entered_by=lookups.scope.actor)
    return ImportRow(number, submission, history), []


# What people write in a yes/no column besides true/false.
_YES = {"да", "д", "+", "y", "согласен", "согласна"}
_NO = {"нет", "н", "-", "n", "не согласен", "не согласна"}


def _marketing_consent(data: dict, consent_text: str) -> None:
    """The optional consent-to-advertising cells as the intake API takes them:
    an empty cell is no consent; a consent without its own version carries the
    import's (the file name), like the processing consent."""
    value = data.get("marketing_consent", "").strip().lower()
    if not value:
        data.pop("marketing_consent", None)
    elif value in _YES:
        data["marketing_consent"] = True
    elif value in _NO:
        data["marketing_consent"] = False
    if data.get("marketing_consent") is True or str(data.get("marketing_consent", "")).lower() in (
        "true",
        "1",
        "yes",
    ):
        data["marketing_consent_text"] = data.get("marketing_consent_text") or consent_text
    else:
        data["marketing_consent_text"] = data.get("marketing_consent_text", "")


def _row_errors(number: int, errors: dict[str, list[str]]) -> list[RowError]:
    """One RowError per message; a message given for several fields (“a phone
    or an email”) is reported once for all of them."""
    fields_of: dict[str, list[str]] = {}
    for name, messages in errors.items():
        for message in messages:
            fields_of.setdefault(message, []).append(name)
    return [RowError(number, ", ".join(names), message) for message, names in fields_of.items()]


def _parse_moment(value) -> dt.datetime | None:
    """An aware datetime from a cell: ISO date or date-time, DD.MM.YYYY [HH:MM[:SS]],
    or a spreadsheet date. Naive values are in settings.TIME_ZONE. Raises ValueError."""
    zone = timezone.get_default_timezone()
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        text = _text(value)
        if not text:
            return None
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = dt.datetime.combine(day, dt.time()) if day else None
        for fmt in ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y"):
            if moment is not None:
                break
            try:
                moment = dt.datetime.strptime(text, fmt).replace(tzinfo=zone)
            except ValueError:
                continue
        if moment is None:
            raise ValueError(text)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, zone)
    return moment


def _validate_history(values, lookups: _Lookups, now, errors, owner) -> History | None:
    def moment(name):
        try:
            value = _parse_moment(values.get(name))
        except ValueError:
            errors.setdefault(name, []).append(
                str(_("Enter a date as YYYY-MM-DD or YYYY-MM-DD HH:MM (or DD.MM.YYYY)."))
            )
            return None
        if value and value > now:
            errors.setdefault(name, []).append(str(_("This date is in the future.")))
            return None
        return value

    def lookup(name, table, message):
        code = _text(values.get(name))
        if code and code not in table:
            errors.setdefault(name, []).append(str(message % {"value": code}))
        return table.get(code) if code else None

    created_at = moment("created_at") or now
    first_contact_at = moment("first_contact_at")
    stage_changed_at = moment("stage_changed_at")
    unknown_stage = _("Unknown stage “%(value)s”.")
    stage = lookup("stage", lookups.stages, unknown_stage)
    furthest = lookup("furthest_stage", lookups.stages, unknown_stage)
    reason = lookup("rejection_reason", lookups.reasons, _("Unknown rejection reason “%(value)s”."))
    comment = _text(values.get("rejection_comment"))

    if stage is None and not errors.get("stage"):
        stage = lookups.stages[StageCode.LOST] if reason else lookups.stages[StageCode.LEAD]
    if stage is None:
        return None
    if reason and stage.kind != StageKind.LOST:
        errors.setdefault("rejection_reason", []).append(str(_("A rejection reason needs a lost stage.")))
    if reason and reason.requires_comment and not comment:
        errors.setdefault("rejection_comment", []).append(str(_("This reason needs a comment.")))
    if comment and not reason:
        errors.setdefault("rejection_comment", []).append(str(_("A rejection comment needs a reason.")))
    for name, value in (("first_contact_at", first_contact_at), ("stage_changed_at", stage_changed_at)):
        if value and value < created_at:
            errors.setdefault(name, []).append(str(_("This is earlier than the lead's creation.")))
    if furthest is None:
        furthest = stage if stage.position is not None else lookups.stages[StageCode.LEAD]
    elif furthest.position is None or (stage.position or 0) > furthest.position:
        errors.setdefault("furthest_stage", []).append(
            str(_("The furthest stage must be a funnel step not before the current stage."))
        )
    return History(
        created_at=created_at,
        stage=stage,
        furthest_stage=furthest,
        stage_changed_at=stage_changed_at or first_contact_at or created_at,
        owner=owner,
        first_contact_at=first_contact_at,
        rejection_reason=reason,
        rejection_comment=comment,
    )


# --- writing ---------------------------------------------------------------------------------


TEAM_CHUNK = 500  # leads moved to a head's team per statement (SQLite's limit on parameters)


def execute(
    plan: Plan,
    *,
    progress: ProgressCallback | None = None,
    actor=None,
    finish: Callable[[Result], None] | None = None,
) -> Result:
    """Write every row of a plan without errors, in one transaction.
    `finish(result)` runs inside that transaction after the last row (a job
    marks itself done there, so the rows and `done` commit together); if it
    raises, nothing is written."""
    if not plan.ok:
        raise ValueError("a plan with errors cannot be imported")
    result = Result()
    total = len(plan.rows)
    if progress:
        progress(0, total)
    rows = plan.rows
    if plan.historical:  # in the order things happened, so repeats and returns come out right
        rows = sorted(rows, key=lambda r: r.submission.received_at)
    to_team = []
    with transaction.atomic():
        for done, row in enumerate(rows, start=1):
            if row.history is None:
                # Distribution runs after the commit: choosing reps inside this long
                # transaction would hold the team's lock and stall live intake.
                outcome = take_lead(row.submission, assign=False)
            else:
                # The past: no clock, no distribution, nobody told about old requests.
                outcome = take_lead(row.submission, start_clock=False, assign=False, notify_owner=False)
                if not outcome.repeat:
                    _apply_history(outcome.lead_id, row.history, plan.filename, actor)
            if outcome.repeat:
                result.repeats += 1
            else:
                result.created += 1
                if plan.team_id and row.history is None and row.submission.owner is None:
                    to_team.append(outcome.lead_id)
            if progress and (done % CHUNK_ROWS == 0 or done == total):
                progress(done, total)
        for start in range(0, len(to_team), TEAM_CHUNK):
            # A head imports into their own team: the leads wait in its queue
            # (distribution below gives them out), their clock on its calendar.
            ids = to_team[start : start + TEAM_CHUNK]
            Lead.objects.filter(pk__in=ids).update(team_id=plan.team_id)
            recompute_running(SlaTimer.objects.filter(lead_id__in=ids))
        if finish:
            finish(result)
    if not plan.historical:
        assign_waiting(limit=max(total, 1), scan=total + 1000)
    return result


def run_job(run) -> None:
    """The leads kind of an ImportJob (see leads.import_jobs): check the file as
    its uploader may import it, then, unless it is a dry run, import it."""
    job = run.job
    source_id = job.options.get("source")
    # A source removed since the upload leaves its rows without one: they are reported.
    source = Source.objects.filter(pk=source_id).first() if source_id else None
    try:
        plan = prepare(
            bytes(job.content or b""),
            filename=job.filename,
            source=source,
            historical=job.historical,
            actor=job.created_by,
            progress=run.checking,
        )
    except ImportFileError as exc:
        run.fail(exc.message)
        return
    run.checked(
        total=plan.total, ok=plan.valid_count, errors=plan.error_rows(), preview=plan.preview(PREVIEW_ROWS)
    )
    if job.state != job.State.IMPORTING:
        return  # a preview, or rows with errors
    execute(
        plan,
        actor=job.created_by,
        progress=run.importing,
        finish=lambda result: run.finish(created=result.created, matched=result.repeats),
    )


def _apply_history(lead_id: int, history: History, filename: str, actor) -> None:
    lead = Lead.objects.select_related("stage").get(pk=lead_id)
    at = history.stage_changed_at
    if history.stage != lead.stage:
        StageChange.objects.create(
            lead=lead, from_stage=lead.stage, to_stage=history.stage, changed_at=at, note=f"import:{filename}"
        )
        lead.stage, lead.stage_changed_at = history.stage, at
    lead.furthest_stage = history.furthest_stage
    lead.first_contact_at = history.first_contact_at
    lead.closed_at = at if history.stage.kind in (StageKind.WON, StageKind.LOST) else None
    lead.rejection_reason = history.rejection_reason
    lead.rejection_comment = history.rejection_comment
    if history.owner is not None:
        lead.owner, lead.team_id = history.owner, history.owner.team_id
        Assignment.objects.create(
            lead=lead,
            team_id=history.owner.team_id,
            to_owner=history.owner,
            assigned_by=actor,
            kind=Assignment.Kind.MANUAL,
            reasons=[{"code": "imported", "params": {"file": filename}}],
            created_at=lead.created_at,
        )
    lead.save()


def import_file(
    file: FileSource,
    *,
    filename: str = "",
    source: Source | None = None,
    historical: bool = False,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    actor=None,
) -> tuple[Plan, Result | None]:
    """Validate, then (unless `dry_run` or there are errors) import, as `actor`
    may (None: an administrator's scope). The result is None when nothing was written."""
    plan = prepare(file, filename=filename, source=source, historical=historical, actor=actor)
    if dry_run or not plan.ok:
        return plan, None
    return plan, execute(plan, progress=progress, actor=actor)
