"""Rejections (DESIGN.md, "Reports" → *Rejections*): why the cohort's lost leads
were rejected, by source, campaign, segment, owner or the stage they were rejected
from. One GROUP BY (group × reason) over the lost leads and one over the cohort
(for the shares per group); the number of queries does not depend on the data.
"""

from django.db.models import Count, F
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads.choices import StageKind
from leads.models import Campaign, RejectionReason, Segment, Source, Stage
from leads.report_keys import dispute_condition, left_for_lost
from reports.base import Report, none_label, percent, register
from reports.params import row_selection
from revops.models import User

# The reasons that settle the "bad leads" argument: the lead was never a buyer.
BAD_LEAD_REASONS = ("not_target", "spam")

# Disputed rejections (issue #15), over the same cohort: a row's field → the
# dispute state its leads have (leads.report_keys.dispute_condition, which the
# lead list's `dispute` filter uses too). Counts are of leads, so each count is
# exactly its drill-down list; a lead disputed twice (rejected, reopened,
# rejected again) counts once in `disputed` and once per state it has.
DISPUTE_COUNTS = {"disputed": "any", "disputes_open": "open", "upheld": "upheld", "overturned": "overturned"}
DISPUTE_OUTCOMES = {"disputes_open": "open", "upheld": "upheld", "overturned": "overturned"}


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


def _dispute_counts() -> dict:
    """Conditional counts of a group's leads with a dispute in each state."""
    return {field: Count("pk", filter=dispute_condition(state)) for field, state in DISPUTE_COUNTS.items()}


def _add_dispute_counts(target: dict, item: dict) -> None:
    for field in DISPUTE_COUNTS:
        target[field] += item[field]


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
        ("disputed", _("Disputed")),
        ("disputes_open", _("Awaiting decision")),
        ("upheld", _("Upheld")),
        ("overturned", _("Overturned")),
        ("dispute_outcomes", _("Disputes by reason")),
    ]

    def compute(self, params) -> dict:
        by = params.by
        cohort = params.cohort()
        lost = cohort.filter(stage_id__in=Stage.ids_of(StageKind.LOST))
        key = _key_expression(by)  # once: by stage it reads the stages
        rows: dict = {}

        def row(key):
            if key not in rows:
                rows[key] = {
                    "key": key,
                    "leads": 0,
                    "rejected": 0,
                    "reasons": {},
                    **dict.fromkeys(DISPUTE_COUNTS, 0),
                    "dispute_outcomes": {},
                }
            return rows[key]

        if by != "stage":
            # Shares are of the group's leads; "the stage left for lost" has only lost leads.
            # The same pass counts the group's disputed rejections.
            groups = cohort.values(key=key).annotate(n=Count("pk"), **_dispute_counts())
            for item in groups.order_by():
                row(item["key"])["leads"] = item["n"]
                _add_dispute_counts(row(item["key"]), item)
        counts = lost.values(key=key, reason=F("rejection_reason__code")).annotate(n=Count("pk")).order_by()
        for item in counts:
            target = row(item["key"])
            target["rejected"] += item["n"]
            target["reasons"][item["reason"]] = target["reasons"].get(item["reason"], 0) + item["n"]
            if by == "stage":
                target["leads"] += item["n"]

        self._count_disputes(by, key, cohort, rows, row)

        names = _names(by, rows)
        result_rows = []
        for key, item in rows.items():
            item["label"] = _label(by, key, names)
        stage_order = {stage.code: index for index, stage in enumerate(Stage.cached())}
        for item in sorted(rows.values(), key=lambda r: self._order(by, r, stage_order)):
            item["reasons"] = dict(
                sorted(item["reasons"].items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
            )
            item["dispute_outcomes"] = dict(
                sorted(item["dispute_outcomes"].items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
            )
            item.update(self._shares(item))
            item["links"] = self._links(
                params, row_selection(by, item["key"]), item["reasons"], item["dispute_outcomes"]
            )
            result_rows.append(item)

        total = {
            "leads": sum(r["leads"] for r in result_rows),
            "rejected": sum(r["rejected"] for r in result_rows),
            **{field: sum(r[field] for r in result_rows) for field in DISPUTE_COUNTS},
        }
        outcomes: dict = {}
        for item in result_rows:
            for code, counts in item["dispute_outcomes"].items():
                into = outcomes.setdefault(code, dict.fromkeys(DISPUTE_OUTCOMES, 0))
                for field, n in counts.items():
                    into[field] += n
        total["dispute_outcomes"] = dict(
            sorted(outcomes.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        )
        reasons: dict = {}
        for item in result_rows:
            for code, count in item["reasons"].items():
                reasons[code] = reasons.get(code, 0) + count
        total["reasons"] = dict(sorted(reasons.items(), key=lambda kv: (kv[0] is None, kv[0] or "")))
        total.update(self._shares(total))
        total["links"] = self._links(params, {}, total["reasons"], total["dispute_outcomes"])
        result = self.envelope(params, result_rows, total)
        # The reasons' names in the reader's language, for the page (codes stay the keys).
        result["reason_labels"] = {
            reason.code: reason.name
            for reason in RejectionReason.objects.filter(
                code__in=[*total["reasons"], *total["dispute_outcomes"]]
            )
        }
        return result

    @staticmethod
    def _count_disputes(by, key, cohort, rows: dict, row) -> None:
        """The cohort's disputed rejections per row: leads with a dispute in each
        state (by stage one query here; the other groupings counted them with the
        group's leads), then per reason disputed and state (one more query, only
        when something was disputed)."""
        if by == "stage":
            for item in (
                cohort.values(key=key).annotate(**_dispute_counts()).filter(disputed__gt=0).order_by()
            ):
                _add_dispute_counts(row(item["key"]), item)
        if not any(item["disputed"] for item in rows.values()):
            return
        per_reason = (
            cohort.filter(disputes__isnull=False)
            .values(key=key, reason=F("disputes__rejection_reason__code"), state=F("disputes__state"))
            .annotate(n=Count("pk", distinct=True))
            .order_by()
        )
        fields = {state: field for field, state in DISPUTE_OUTCOMES.items()}
        for item in per_reason:
            outcomes = row(item["key"])["dispute_outcomes"]
            into = outcomes.setdefault(item["reason"], dict.fromkeys(DISPUTE_OUTCOMES, 0))
            into[fields[item["state"]]] += item["n"]

    def sub_labels(self, field: str, codes: list) -> dict:
        """Export column names: reasons by name; a reason's dispute outcome as
        "Not target: upheld" (reports.exports flattens the nested figure)."""
        names = {
            r.code: r.name
            for r in RejectionReason.objects.filter(code__in=[c for c in codes if isinstance(c, str)])
        }
        if field != "dispute_outcomes":
            return names
        states = {field: label for field, label in self.columns if field in DISPUTE_OUTCOMES}
        reasons = {
            r.code: r.name for r in RejectionReason.objects.filter(code__in=[c[0] for c in codes if c[0]])
        }
        return {
            (code, state): f"{reasons.get(code, code) if code else gettext('no reason')} — {states[state]}"
            for code, state in codes
        }

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
    def _links(params, selection: dict, reasons: dict, outcomes: dict) -> dict:
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
        # Disputes: every lead of the cohort, reopened ones too, with a dispute in that state.
        for field, state in DISPUTE_COUNTS.items():
            links[field] = params.drilldown(step="leads", dispute=state, **selection)
        links["dispute_outcomes"] = {
            code: {
                field: params.drilldown(step="leads", dispute=state, dispute_reason=code, **selection)
                for field, state in DISPUTE_OUTCOMES.items()
            }
            for code in outcomes
            if code is not None
        }
        return links
