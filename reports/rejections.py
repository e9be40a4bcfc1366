"""Rejections (DESIGN.md, "Reports" → *Rejections*): why the cohort's lost leads
were rejected, by source, campaign, segment, owner or the stage they were rejected
from. One GROUP BY (group × reason) over the lost leads and one over the cohort
(for the shares per group); the number of queries does not depend on the data.
"""

from django.db.models import Count, F
from django.utils.translation import gettext_lazy as _

from leads.choices import StageKind
from leads.models import Campaign, RejectionReason, Segment, Source, Stage
from leads.report_keys import left_for_lost
from reports.base import Report, none_label, percent, register
from reports.params import row_selection
from revops.models import User

# The reasons that settle the "bad leads" argument: the lead was never a buyer.
BAD_LEAD_REASONS = ("not_target", "spam")


def _key_expression(by: str):
    if by == "stage":
        return left_for_lost()
    return F(f"{by}_id")


def _names(by: str, keys) -> dict:
    ids = [key for key in keys if key is not None]
    if not ids:
        return {}
    if by == "stage":
        return {stage.code: stage.name for stage in Stage.cached() if stage.code in ids}
    if by == "owner":
        return {user.pk: user.get_full_name() or user.username for user in User.objects.filter(pk__in=ids)}
    if by == "segment":
        return {segment.pk: segment.name for segment in Segment.objects.filter(pk__in=ids)}
    model = {"source": Source, "campaign": Campaign}[by]
    return {obj.pk: str(obj) for obj in model.objects.filter(pk__in=ids)}


def _label(by: str, key, names: dict) -> str:
    if key is None:
        return str(_("unassigned")) if by == "owner" else none_label(by)
    return names.get(key, str(key))


@register
class RejectionsReport(Report):
    name = "rejections"
    title = _("Rejections")
    by_choices = ("source", "campaign", "segment", "owner", "stage")
    default_by = "source"
    modes = ("cohort",)  # defined over the cohort's leads only (DESIGN.md)
    columns = [
        ("leads", _("Leads")),
        ("rejected", _("Rejected")),
        ("reasons", _("Reasons")),
        # xgettext:no-python-format
        ("not_target_pct", _("Not target, % of leads")),
        # xgettext:no-python-format
        ("spam_pct", _("Spam, % of leads")),
    ]

    def compute(self, params) -> dict:
        by = params.by
        cohort = params.cohort()
        lost = cohort.filter(stage_id__in=Stage.ids_of(StageKind.LOST))
        rows: dict = {}

        def row(key):
            if key not in rows:
                rows[key] = {"key": key, "leads": 0, "rejected": 0, "reasons": {}}
            return rows[key]

        if by != "stage":
            # Shares are of the group's leads; "the stage left for lost" has only lost leads.
            for item in cohort.values(key=_key_expression(by)).annotate(n=Count("pk")).order_by():
                row(item["key"])["leads"] = item["n"]
        counts = (
            lost.values(key=_key_expression(by), reason=F("rejection_reason__code"))
            .annotate(n=Count("pk"))
            .order_by()
        )
        for item in counts:
            target = row(item["key"])
            target["rejected"] += item["n"]
            target["reasons"][item["reason"]] = target["reasons"].get(item["reason"], 0) + item["n"]
            if by == "stage":
                target["leads"] += item["n"]

        names = _names(by, rows)
        result_rows = []
        for key, item in rows.items():
            item["label"] = _label(by, key, names)
        stage_order = {stage.code: index for index, stage in enumerate(Stage.cached())}
        for item in sorted(rows.values(), key=lambda r: self._order(by, r, stage_order)):
            item["reasons"] = dict(
                sorted(item["reasons"].items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
            )
            item.update(self._shares(item))
            item["links"] = self._links(params, row_selection(by, item["key"]), item["reasons"])
            result_rows.append(item)

        total = {
            "leads": sum(r["leads"] for r in result_rows),
            "rejected": sum(r["rejected"] for r in result_rows),
        }
        reasons: dict = {}
        for item in result_rows:
            for code, count in item["reasons"].items():
                reasons[code] = reasons.get(code, 0) + count
        total["reasons"] = dict(sorted(reasons.items(), key=lambda kv: (kv[0] is None, kv[0] or "")))
        total.update(self._shares(total))
        total["links"] = self._links(params, {}, total["reasons"])
        result = self.envelope(params, result_rows, total)
        # The reasons' names in the reader's language, for the page (codes stay the keys).
        result["reason_labels"] = {
            reason.code: reason.name
            for reason in RejectionReason.objects.filter(code__in=list(total["reasons"]))
        }
        return result

    @staticmethod
    def _order(by, row, stage_order):
        key = row["key"]
        if by == "stage":
            return (key is None, stage_order.get(key, len(stage_order)), "")
        return (key is None, 0, row["label"].casefold())

    @staticmethod
    def _shares(counts: dict) -> dict:
        return {
            f"{code}_pct": percent(counts["reasons"].get(code, 0), counts["leads"])
            for code in BAD_LEAD_REASONS
        }

    @staticmethod
    def _links(params, selection: dict, reasons: dict) -> dict:
        # By stage a row has only lost leads, so its `leads` are the rejected ones:
        # the list of every arrival (or of leads reopened since) would list more.
        leads_step = "rejected" if params.by == "stage" else "leads"
        links = {
            "leads": params.drilldown(step=leads_step, **selection),
            "rejected": params.drilldown(step="rejected", **selection),
        }
        links["reasons"] = {
            code: params.drilldown(step="rejected", rejection_reason=code, **selection)
            for code in reasons
            if code is not None
        }
        return links
