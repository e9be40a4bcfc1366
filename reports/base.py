"""What every report shares: rounding of money and ratios, the Report class and
the registry the generic views look reports up in (DESIGN.md, "Reports")."""

from __future__ import annotations

import importlib
from decimal import ROUND_HALF_UP, Decimal

# The report modules, imported on first use so each registers itself; a module
# that does not exist (yet) is simply not offered.
REPORT_MODULES = ("funnel", "sla", "rejections", "quality", "kpis")

REPORTS: dict[str, Report] = {}


def none_label(by: str) -> str:
    """The label of a report's row for "none" (no campaign, no segment…): in words,
    never the bare code."""
    from django.utils.translation import gettext as _

    return {
        "source": _("No source"),
        "campaign": _("No campaign"),
        "segment": _("No segment"),
        "product": _("No product"),
        "team": _("No team"),
        "owner": _("No owner"),
        "stage": _("No stage recorded"),
    }.get(by, _("None"))


def _quantize(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def money(value) -> str | None:
    """A sum of money as a decimal string with 2 places, half-up ("1234.50")."""
    if value is None:
        return None
    return str(_quantize(Decimal(value), 2))


def ratio(num, den, places=2) -> str | None:
    """num / den rounded half-up once, from the unrounded values; None when the
    divisor is 0 or missing (or the numerator is missing)."""
    if num is None or den is None or Decimal(den) == 0:
        return None
    return str(_quantize(Decimal(num) / Decimal(den), places))


def percent(num, den, places=1) -> str | None:
    """num / den × 100, rounded half-up once; None when the divisor is 0."""
    if num is None or den is None or Decimal(den) == 0:
        return None
    return str(_quantize(Decimal(num) * 100 / Decimal(den), places))


class Report:
    """One report: its name, title, groupings, modes and columns. `compute`
    returns {by, mode, date_from, date_to, rows: [...], total: {...}}; each row
    has `key` and `label` and may carry `links: {field: url}`."""

    name: str = ""
    title = ""  # lazy-translated
    by_choices: tuple[str, ...] = ()
    default_by: str = ""
    modes: tuple[str, ...] = ("cohort", "events")
    columns: list = []  # [(field, label)] in order, for pages and exports
    template: str | None = None  # default: reports/<name>.html

    def compute(self, params) -> dict:  # pragma: no cover - every report defines it
        raise NotImplementedError

    def get_template(self) -> str:
        return self.template or f"reports/{self.name}.html"

    def envelope(self, params, rows, total) -> dict:
        return {
            "by": params.by,
            "mode": params.mode,
            "date_from": params.date_from.isoformat(),
            "date_to": params.date_to.isoformat(),
            "rows": rows,
            "total": total,
        }


def register(report_cls):
    """Class decorator: put one instance of the report in REPORTS."""
    REPORTS[report_cls.name] = report_cls()
    return report_cls


def autodiscover():
    for module in REPORT_MODULES:
        try:
            importlib.import_module(f"reports.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"reports.{module}":
                raise


def get_report(name: str) -> Report | None:
    if name not in REPORTS:
        autodiscover()
    return REPORTS.get(name)


def all_reports() -> list[Report]:
    autodiscover()
    return [REPORTS[name] for name in REPORT_MODULES if name in REPORTS]
