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

Row numbers are those a spreadsheet shows: the header is row 1, the first data
row is row 2 (blank rows count but are skipped).
"""

import csv
import dataclasses
import datetime as dt
import io
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connections, transaction
from django.utils import timezone, translation
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

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
CHUNK_ROWS = 200  # rows written between two progress reports
EXTENSIONS = (".csv", ".txt", ".xlsx")

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
    "source": ("source", "источник"),
}
# Columns only a historical import reads.
HISTORICAL_ALIASES = {
    "created_at": ("created_at", "created", "дата создания", "дата обращения", "дата заявки", "создан"),
    "stage": ("stage", "этап", "стадия"),
    "furthest_stage": ("furthest_stage", "самый дальний этап"),
    "owner": ("owner", "ответственный", "менеджер"),
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
INTAKE_FIELDS = tuple(name for name in FIELD_ALIASES if name != "source")


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

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def invalid_count(self) -> int:
        return len({e.row for e in self.errors})

    @property
    def valid_count(self) -> int:
        return len(self.rows)

    def summary(self, rows: int = 20, errors: int = 1000) -> dict:
        """What a person checks before importing, as plain data (it may wait in
        the cache): counts, the first valid rows, the first errors."""
        preview = []
        for row in self.rows[:rows]:
            sub, history = row.submission, row.history
            preview.append(
                {
                    "number": row.number,
                    "name": sub.name,
                    "phone": format_phone(sub.phone),
                    "email": sub.email,
                    "company": sub.company,
                    "source": sub.source.name,
                    "product": sub.product,
                    "created_at": sub.received_at,
                    "stage": str(history.stage.name) if history else "",
                    "owner": str(history.owner or "") if history else "",
                }
            )
        column = self.columns.get
        return {
            "filename": self.filename,
            "historical": self.historical,
            "total": self.total,
            "valid": self.valid_count,
            "invalid": self.invalid_count,
            "extra_columns": self.extra_columns,
            "rows": preview,
            "errors": [
                {
                    "row": e.row,
                    "field": e.field,
                    "column": ", ".join(column(name, name) for name in e.field.split(", "))
                    if e.field
                    else "",
                    "message": e.message,
                }
                for e in self.errors[:errors]
            ],
            "errors_hidden": max(len(self.errors) - errors, 0),
        }


@dataclass
class Result:
    created: int = 0  # new leads
    repeats: int = 0  # requests that joined a contact's open lead

    @property
    def total(self) -> int:
        return self.created + self.repeats


# --- reading ---------------------------------------------------------------------------------


def read_table(path: Path, filename: str = "") -> tuple[list, Iterator[tuple[int, list]]]:
    """The header and an iterator of (row number, cells) of a CSV or XLSX file."""
    path = Path(path)
    name = (filename or path.name).lower()
    try:
        size = path.stat().st_size
    except OSError:
        raise ImportFileError(_("The file cannot be read.")) from None
    if size > MAX_FILE_BYTES:
        raise ImportFileError(
            _("The file is too large: at most %(mb)s MB.") % {"mb": MAX_FILE_BYTES // (1024 * 1024)}
        )
    if size == 0:
        raise ImportFileError(_("The file is empty."))
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04"):
        rows = _xlsx_rows(path)
    elif head.startswith(b"\xd0\xcf\x11\xe0") or name.endswith((".xls", ".xlsx")):
        raise ImportFileError(_("This is not a readable .xlsx file. Save it as .xlsx or CSV and try again."))
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(path.read_bytes())
    else:
        raise ImportFileError(_("Unsupported file type: upload a .csv or .xlsx file."))
    numbered = _guarded(enumerate(rows, start=1), name)
    first = next(numbered, None)
    if first is None:
        raise ImportFileError(_("The file is empty."))
    return list(first[1]), numbered


def _guarded(rows, name):
    """Rows as they are read; a broken file gives a message, never a 500."""
    try:
        for number, cells in rows:
            if number > MAX_ROWS * 2:  # blank rows are skipped, but not without end
                raise ImportFileError(_("Too many rows: at most %(n)s per file.") % {"n": f"{MAX_ROWS:,}"})
            yield number, cells
    except ImportFileError:
        raise
    except Exception as exc:  # the message may quote the file's content: log only the kind
        logger.warning("Unreadable import file %s: %s", name, type(exc).__name__)
        raise ImportFileError(_("The file cannot be read.")) from None


def estimate_rows(path: Path, filename: str = "") -> int:
    """A quick count of the data rows, before reading them: exact for CSV files
    without line breaks inside cells, the sheet's recorded size for XLSX."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
        if head.startswith(b"PK\x03\x04"):
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True)
            try:
                rows = book.worksheets[0].max_row
            finally:
                book.close()
            return max(rows - 1, 0) if rows else path.stat().st_size // 50
        data = path.read_bytes()
        return max(data.count(b"\n") + (0 if data.endswith(b"\n") else 1) - 1, 0)
    except Exception:  # read_table will say what is wrong with the file
        return 0


def _decode(data: bytes) -> str:
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


def _xlsx_rows(path: Path) -> Iterator[list]:
    import openpyxl  # imported here: only XLSX files need it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # not a workbook, or a broken one
        logger.warning("Unreadable XLSX import: %s", type(exc).__name__)
        raise ImportFileError(_("This is not a readable .xlsx file.")) from None

    def rows():
        try:
            yield from book.worksheets[0].iter_rows(values_only=True)
        finally:
            book.close()

    return rows()


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


class _Lookups:
    """Reference data read once per file, not once per row."""

    def __init__(self, default_source: Source | None):
        self.default_source = default_source
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
    path: Path,
    *,
    filename: str = "",
    source: Source | None = None,
    historical: bool = False,
    progress: ProgressCallback | None = None,
    now: dt.datetime | None = None,
) -> Plan:
    """Read and validate the whole file. Raises ImportFileError when the file as
    a whole is unusable; problems of single rows are collected in `plan.errors`.
    `progress(rows checked, estimated rows)` is called every CHUNK_ROWS rows."""
    filename = filename or Path(path).name
    estimate = estimate_rows(path, filename) if progress else 0
    headers, rows = read_table(path, filename)
    by_index, columns, extra_columns = _map_headers(headers, historical)
    plan = Plan(filename, historical, columns, list(extra_columns.values()))
    lookups = _Lookups(source)
    now = now or timezone.now()
    consent_text = f"import:{filename}"[:100]
    for number, cells in rows:
        if progress and number % CHUNK_ROWS == 0:
            progress(plan.total, max(estimate, plan.total))
        if not any(_text(c) for c in cells):
            continue
        plan.total += 1
        if plan.total > MAX_ROWS:
            raise ImportFileError(_("Too many rows: at most %(n)s per file.") % {"n": f"{MAX_ROWS:,}"})
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


def _validate_row(number, values, extra, lookups, consent_text, historical, now):
    errors: dict[str, list[str]] = {}
    data = {name: _text(values.get(name)) for name in INTAKE_FIELDS}
    data.update(consent=True, consent_text=consent_text, extra=extra)
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
    history = _validate_history(values, lookups, now, errors) if historical else None
    if errors:
        return None, _row_errors(number, errors)
    received_at = history.created_at if history else None
    submission = dataclasses.replace(
        submission_from(validated, source, received_at=received_at),
        channel=EntryChannel.IMPORT,
    )
    return ImportRow(number, submission, history), []


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


def _validate_history(values, lookups: _Lookups, now, errors) -> History | None:
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
    owner_name = _text(values.get("owner"))
    owner = lookups.user(owner_name) if owner_name else None
    if owner_name and owner is None:
        errors.setdefault("owner", []).append(str(_("No active user “%(value)s”.") % {"value": owner_name}))

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


def execute(plan: Plan, *, progress: ProgressCallback | None = None, actor=None) -> Result:
    """Write every row of a plan without errors, in one transaction."""
    if not plan.ok:
        raise ValueError("a plan with errors cannot be imported")
    result = Result()
    total = len(plan.rows)
    if progress:
        progress(0, total)
    rows = plan.rows
    if plan.historical:  # in the order things happened, so repeats and returns come out right
        rows = sorted(rows, key=lambda r: r.submission.received_at)
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
            if progress and (done % CHUNK_ROWS == 0 or done == total):
                progress(done, total)
    if not plan.historical:
        assign_waiting(limit=max(total, 1), scan=total + 1000)
    return result


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
    path: Path,
    *,
    filename: str = "",
    source: Source | None = None,
    historical: bool = False,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    actor=None,
) -> tuple[Plan, Result | None]:
    """Validate, then (unless `dry_run` or there are errors) import. The result
    is None when nothing was written."""
    plan = prepare(path, filename=filename, source=source, historical=historical)
    if dry_run or not plan.ok:
        return plan, None
    return plan, execute(plan, progress=progress, actor=actor)


# --- background jobs (the web's large files) ----------------------------------------------------
#
# The upload pages check and import a large file in a thread of the web process;
# the thread writes its progress into the cache under the upload's token and the
# page polls it. The import is still one transaction: if the process dies,
# nothing is written. The cache carries only progress and the preview, never
# data: when it is down the import still completes, only the page is blind.

STATUS_TIMEOUT = 24 * 3600
STALE_SECONDS = 15 * 60  # no word from a running job for this long: its process is gone
ACTIVE_STATES = ("queued", "checking", "importing")
PREVIEW_ROWS = 20
ERRORS_KEPT = 1000


def imports_dir() -> Path:
    folder = Path(settings.DATA_DIR) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _status_key(token: str) -> str:
    return f"leads:import:{token}"


def set_status(token: str, state: str, **status) -> None:
    """States: queued → checking → checked (with `summary`), or for an import
    → importing → done (`created`, `repeats`) | invalid (`summary`); failed (`message`)."""
    status.update(state=state, updated=time.time())
    try:
        cache.set(_status_key(token), status, STATUS_TIMEOUT)
    except Exception as exc:  # progress is a courtesy; the job goes on
        logger.warning("Import progress not stored: %s", type(exc).__name__)


def job_status(token: str) -> dict | None:
    try:
        status = cache.get(_status_key(token))
    except Exception as exc:
        logger.warning("Import progress not read: %s", type(exc).__name__)
        return None
    if status and status["state"] in ACTIVE_STATES and time.time() - status["updated"] > STALE_SECONDS:
        status = {**status, "state": "failed", "message": str(_("The import stopped; nothing was imported."))}
    return status


def start_background(
    token: str,
    path: Path,
    *,
    write: bool,
    filename: str,
    source: Source | None,
    historical: bool,
    actor=None,
    language: str = "",
) -> threading.Thread:
    """Check (`write=False`) or import `path` in a daemon thread, reporting
    through `job_status(token)`. An import deletes the file when it ends."""
    set_status(token, "queued", done=0, total=0)
    options = {"filename": filename, "source": source, "historical": historical}
    thread = threading.Thread(
        target=_run_job,
        args=(token, Path(path), write, options, actor, language or settings.LANGUAGE_CODE),
        daemon=True,  # a dying process takes its uncommitted import with it: nothing half-written
    )
    thread.start()
    return thread


def _run_job(token, path, write, options, actor, language) -> None:
    try:
        with translation.override(language):
            try:
                plan = prepare(
                    path,
                    **options,
                    progress=lambda done, total: set_status(token, "checking", done=done, total=total),
                )
                if not write or not plan.ok:
                    summary = plan.summary(PREVIEW_ROWS, ERRORS_KEPT)
                    set_status(token, "checked" if not write else "invalid", summary=summary)
                    return
                result = execute(
                    plan,
                    actor=actor,
                    progress=lambda done, total: set_status(token, "importing", done=done, total=total),
                )
                set_status(token, "done", created=result.created, repeats=result.repeats)
            except ImportFileError as exc:
                set_status(token, "failed", message=str(exc.message))
            except Exception as exc:
                # The frames, not the message: a database error may quote a phone or an email.
                trace = "".join(traceback.format_tb(exc.__traceback__))
                logger.error("Background import %s failed: %s\n%s", token, type(exc).__name__, trace)
                set_status(token, "failed", message=str(_("The import failed; nothing was imported.")))
    finally:
        if write:
            path.unlink(missing_ok=True)
        connections.close_all()
