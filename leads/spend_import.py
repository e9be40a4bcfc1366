"""Importing marketing spend from a CSV or XLSX file (the `spend` kind of an ImportJob).

Columns (the header is row 1; Russian names are accepted too):
- `month`: `YYYY-MM`, or any date in the month (`YYYY-MM-DD`, `DD.MM.YYYY`, an Excel date);
- `source`: a source's code or name;
- `campaign` (optional): a campaign of that source, by code or name; empty means
  spend on the source as a whole;
- `amount`: not negative; `12 345,50` and `12345.50` both read.

A row for a campaign (or a source without campaign) and month that already has
spend replaces that amount: the preview says which rows update and what they
held. Two rows of the file for the same campaign/source and month are an error,
as are an unknown source, a campaign of another source, a bad month and a
negative amount. Like the lead import, either every row is written or none.
Reading and the file's guards (size, encoding, zip bombs) are leads.importer's.
"""

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leads.importer import FileSource, ImportFileError, RowError, _norm, _text, read_table
from leads.models import Campaign, Source, Spend

PREVIEW_ROWS = 50
MAX_AMOUNT = Decimal("999999999999.99")  # Spend.amount: 14 digits, 2 after the point

ALIASES = {
    "month": ("month", "период", "месяц", "period", "date", "дата"),
    "source": ("source", "источник", "канал", "channel"),
    "campaign": ("campaign", "кампания", "рекламная кампания"),
    "amount": ("amount", "сумма", "spend", "расход", "расходы", "бюджет", "cost"),
}
_ALIAS_TO_FIELD = {_norm(alias): name for name, aliases in ALIASES.items() for alias in aliases}
REQUIRED = ("month", "source", "amount")


@dataclasses.dataclass
class SpendRow:
    number: int
    month: dt.date
    source: Source
    campaign: Campaign | None
    amount: Decimal
    existing: Spend | None = None  # the row this one updates


@dataclasses.dataclass
class SpendPlan:
    filename: str
    columns: dict[str, str]  # field → the header as written in the file
    rows: list[SpendRow] = dataclasses.field(default_factory=list)
    errors: list[RowError] = dataclasses.field(default_factory=list)
    total: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def valid_count(self) -> int:
        return len(self.rows)

    @property
    def updates(self) -> int:
        return sum(1 for row in self.rows if row.existing is not None)

    def preview(self, rows: int = PREVIEW_ROWS) -> dict:
        return {
            "spend": True,
            "updates": self.updates,
            "amount": str(sum((row.amount for row in self.rows), Decimal(0))),
            "rows": [
                {
                    "number": row.number,
                    "month": f"{row.month:%Y-%m}",
                    "source": row.source.name,
                    "campaign": row.campaign.name if row.campaign else "",
                    "amount": str(row.amount),
                    "old_amount": str(row.existing.amount) if row.existing else None,
                }
                for row in self.rows[:rows]
            ],
        }

    def error_rows(self) -> list[dict]:
        column = self.columns.get
        return [
            {
                "row": e.row,
                "field": e.field,
                "column": column(e.field, e.field) if e.field else "",
                "message": e.message,
            }
            for e in self.errors
        ]


@dataclasses.dataclass
class SpendResult:
    created: int = 0
    updated: int = 0


# --- reading -------------------------------------------------------------------------------------


def _columns(headers: list) -> tuple[dict[int, str], dict[str, str]]:
    by_index, columns = {}, {}
    for index, header in enumerate(headers):
        label = _text(header)
        name = _ALIAS_TO_FIELD.get(_norm(label)) if label else None
        if name is None:
            continue  # other columns (a comment, a currency) are ignored
        if name in columns:
            raise ImportFileError(
                _("The columns “%(a)s” and “%(b)s” both mean %(field)s; keep one.")
                % {"a": columns[name], "b": label, "field": name}
            )
        by_index[index], columns[name] = name, label
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ImportFileError(
            _("Missing columns: %(columns)s. The file needs month, source and amount (campaign is optional).")
            % {"columns": ", ".join(missing)}
        )
    return by_index, columns


_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
_ISO_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$")
_DOTTED_RE = re.compile(r"^(?:(\d{1,2})\.)?(\d{1,2})\.(\d{4})$")


def parse_month(text: str) -> dt.date | None:
    """The first day of the month a cell names, or None."""
    text = text.strip()
    for pattern, year_i, month_i, day_i in (
        (_MONTH_RE, 1, 2, None),
        (_ISO_RE, 1, 2, 3),
        (_DOTTED_RE, 3, 2, 1),
    ):
        match = pattern.match(text)
        if not match:
            continue
        try:
            year, month = int(match.group(year_i)), int(match.group(month_i))
            day = int(match.group(day_i)) if day_i and match.group(day_i) else 1
            dt.date(year, month, day)  # a real date, not 2026-02-31
        except ValueError:
            return None
        return dt.date(year, month, 1) if 1900 < year < 3000 else None
    return None


def parse_amount(text: str) -> Decimal | None:
    cleaned = text.replace("\N{NO-BREAK SPACE}", "").replace("\N{NARROW NO-BREAK SPACE}", "").replace(" ", "")
    cleaned = cleaned.replace("₽", "").replace(",", ".")
    if not re.fullmatch(r"[-+]?\d+(\.\d+)?", cleaned):
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


class _Lookups:
    def __init__(self):
        self.sources = list(Source.objects.all())
        self.campaigns = list(Campaign.objects.select_related("source"))

    def source(self, value: str) -> Source | None:
        key = value.casefold()
        matches = [s for s in self.sources if s.code.casefold() == key] or [
            s for s in self.sources if s.name.casefold() == key
        ]
        return matches[0] if len(matches) == 1 else None

    def campaign(self, value: str, source: Source) -> tuple[Campaign | None, Campaign | None]:
        """(the source's campaign, or a campaign of another source with this code or name)."""
        key = value.casefold()

        def named(campaigns):
            return [c for c in campaigns if c.code.casefold() == key] or [
                c for c in campaigns if c.name.casefold() == key
            ]

        own = named([c for c in self.campaigns if c.source_id == source.pk])
        if len(own) == 1:
            return own[0], None
        other = named([c for c in self.campaigns if c.source_id != source.pk])
        return None, (other[0] if other else None)


def prepare(
    file: FileSource, *, filename: str = "", progress: Callable[[int, int], None] | None = None
) -> SpendPlan:
    """Read and check every row; nothing is written."""
    headers, rows = read_table(file, filename)
    by_index, columns = _columns(headers)
    plan = SpendPlan(filename=filename, columns=columns)
    lookups = _Lookups()
    seen: dict[tuple, int] = {}
    for number, cells in rows:
        values = {name: _text(cells[i]) if i < len(cells) else "" for i, name in by_index.items()}
        if not any(_text(cell) for cell in cells):
            continue  # a blank row
        plan.total += 1
        errors = []

        def error(field, message, errors=errors, number=number):
            errors.append(RowError(number, field, str(message)))

        month = parse_month(values.get("month", ""))
        if month is None:
            error("month", _("Not a month: write YYYY-MM (e.g. 2026-03) or a date."))
        source = lookups.source(values.get("source", "")) if values.get("source") else None
        if not values.get("source"):
            error("source", _("The source is missing."))
        elif source is None:
            error(
                "source",
                _("Unknown source “%(value)s”: use a source's code or name.") % {"value": values["source"]},
            )
        campaign = None
        if values.get("campaign") and source is not None:
            campaign, elsewhere = lookups.campaign(values["campaign"], source)
            if elsewhere is not None:
                error(
                    "campaign",
                    _("The campaign “%(campaign)s” belongs to the source “%(other)s”, not “%(source)s”.")
                    % {"campaign": elsewhere.name, "other": elsewhere.source.name, "source": source.name},
                )
            elif campaign is None:
                error(
                    "campaign",
                    _("Unknown campaign “%(value)s” of the source “%(source)s”.")
                    % {"value": values["campaign"], "source": source.name},
                )
        amount = parse_amount(values.get("amount", ""))
        if amount is None:
            error("amount", _("Not an amount: write a number such as 125000 or 125 000,50."))
        elif amount < 0:
            error("amount", _("The amount cannot be negative."))
        elif amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
            error("amount", _("At most 12 digits before the decimal point and 2 after it."))
        if month is not None and source is not None and not errors:
            key = ("campaign", campaign.pk, month) if campaign else ("source", source.pk, month)
            if key in seen:
                error(
                    "",
                    _("Row %(row)s already gives spend for this campaign or source and month.")
                    % {"row": seen[key]},
                )
            else:
                seen[key] = number
        if errors:
            plan.errors.extend(errors)
        else:
            plan.rows.append(SpendRow(number, month, source, campaign, amount.quantize(Decimal("0.01"))))
        if progress and plan.total % 200 == 0:
            progress(plan.total, 0)
    if plan.total == 0:
        raise ImportFileError(_("The file has no rows under its header."))
    _find_existing(plan)
    return plan


def _find_existing(plan: SpendPlan) -> None:
    """Which rows update spend already entered (one query)."""
    if not plan.rows:
        return
    months = {row.month for row in plan.rows}
    existing = {}
    for spend in Spend.objects.filter(month__in=months):
        key = ("campaign", spend.campaign_id) if spend.campaign_id else ("source", spend.source_id)
        existing[(*key, spend.month)] = spend
    for row in plan.rows:
        key = ("campaign", row.campaign.pk) if row.campaign else ("source", row.source.pk)
        row.existing = existing.get((*key, row.month))


# --- writing -------------------------------------------------------------------------------------


def execute(plan: SpendPlan, *, finish: Callable[[SpendResult], None] | None = None) -> SpendResult:
    """Write every row of a plan without errors in one transaction; `finish`
    runs inside it (the job marks itself done with the rows)."""
    if not plan.ok:
        raise ValueError("a plan with errors cannot be imported")
    result = SpendResult()
    with transaction.atomic():
        # Read again under the transaction: spend entered since the preview is updated, not duplicated.
        _find_existing(plan)
        for row in plan.rows:
            if row.existing is not None:
                Spend.objects.filter(pk=row.existing.pk).update(amount=row.amount)
                result.updated += 1
            else:
                Spend.objects.create(
                    source=row.source, campaign=row.campaign, month=row.month, amount=row.amount
                )
                result.created += 1
        if finish:
            finish(result)
    return result


def run_job(run) -> None:
    """The `spend` kind of an ImportJob (see leads.import_jobs)."""
    job = run.job
    try:
        plan = prepare(bytes(job.content or b""), filename=job.filename, progress=run.checking)
    except ImportFileError as exc:
        run.fail(exc.message)
        return
    run.checked(total=plan.total, ok=plan.valid_count, errors=plan.error_rows(), preview=plan.preview())
    if job.state != job.State.IMPORTING:
        return
    execute(plan, finish=lambda result: run.finish(created=result.created, matched=result.updated))


def spend_filter(campaign: Campaign | None, source: Source, month: dt.date) -> Q:
    """The one row a campaign (or a source without campaign) has for a month."""
    if campaign is not None:
        return Q(campaign=campaign, month=month)
    return Q(source=source, campaign__isnull=True, month=month)
