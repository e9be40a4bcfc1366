"""The funnel's steps, defined once (DESIGN.md, "Reports"): LeadQuerySet takes
these methods, and both the lead list's FilterSet (drill-down) and reports/ use
them, so a report's count and the list behind it cannot drift apart.

Cohort mode ("how far did the leads that arrived in the period get"):
- a step counts leads that reached it **or any later step**: `meeting` and
  `proposal` = furthest stage at or after that stage; `sql` = qualification
  `sql` or furthest stage at or after `meeting`; `mql` = qualification `mql` or
  `sql`, or counted in `sql`; `won` = current stage of type won;
- `rejected` = current stage of type lost, `nurture` = of type nurture.

Events mode ("what happened in the period"): a lead counts in a step when its
FIRST such event falls in [start, end): `mql`/`sql` from the qualification
history (LeadEvent kind `qualified`, data {"from", "to"}), `meeting`,
`proposal`, `won` (a stage of type won), `rejected` (type lost) and `nurture`
(type nurture) from the first StageChange into that stage, not counting a
close taken back by Undo or the undo itself; `leads` = arrivals.

Returns from nurture (issue #15), three steps of their own beside the funnel:
- `returned`: the lead came back from nurture (a `done` NurtureReturn; its
  `returned_at` is the event). Cohort: ever, up to now. Events: its FIRST
  return falls in the period.
- `returned_sql`: the lead moved on to SQL after coming back — a qualification
  to `sql` (the history's `qualified` event), or an entry into `meeting` or a
  later stage, strictly after a return of that lead (the return's own move back
  to the stage it left is not such an entry: it comes from nurture and happens
  at the return's instant). Cohort: ever; events: the first such event in the
  period (whenever the return was).
- `returned_won`: an entry into a won stage after a return (cohort: and the
  lead is won now, so it is part of `won`); events: the first such entry in
  the period.
So, in cohort mode, returned ⊇ returned_sql ⊇ returned_won (a won stage lies
after `meeting`). Entries taken back by Undo do not count, as above.

Leads rejected as `duplicate` (merged away or rejected as such) count nowhere:
`counted()`.
"""

from django.db.models import Exists, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Least
from django.utils.translation import gettext_lazy as _

RETURN_STEPS = ("returned", "returned_sql", "returned_won")
STEPS = ("leads", "mql", "sql", "meeting", "proposal", "won", "rejected", "nurture", *RETURN_STEPS)
MODES = ("cohort", "events")
# What the lead list's drill-down fields show for the codes above.
STEP_LABELS = {
    "leads": _("Leads"),
    "mql": _("MQL"),
    "sql": _("SQL"),
    "meeting": _("Meeting"),
    "proposal": _("Proposal"),
    "won": _("Won"),
    "rejected": _("Rejected"),
    "nurture": _("Nurture"),
    "returned": _("Back from nurture"),
    "returned_sql": _("Back from nurture, then SQL"),
    "returned_won": _("Back from nurture, then won"),
}
MODE_LABELS = {"cohort": _("Cohort (by arrival)"), "events": _("Events (by when each step happened)")}
DUPLICATE_REASON = "duplicate"


def _stage_ids_from(code: str) -> list[int]:
    """Ordered stages at or after the stage `code` in the funnel."""
    from leads.models import Stage

    stages = Stage.cached()
    anchor = next((s for s in stages if s.code == code), None)
    if anchor is None or anchor.position is None:
        return []
    return [s.pk for s in stages if s.position is not None and s.position >= anchor.position]


def _stage_ids_of_kind(kind: str) -> list[int]:
    from leads.models import Stage

    return Stage.ids_of(kind)


def _entry_stage_ids(step: str) -> list[int]:
    """Stages whose entry is the event of `step` (events mode)."""
    from leads.choices import StageCode, StageKind
    from leads.models import Stage

    if step in ("meeting", "proposal"):
        code = StageCode.MEETING if step == "meeting" else StageCode.PROPOSAL
        return [s.pk for s in Stage.cached() if s.code == code]
    kind = {"won": StageKind.WON, "rejected": StageKind.LOST, "nurture": StageKind.NURTURE}[step]
    return _stage_ids_of_kind(kind)


def reached_condition(step: str) -> Q:
    """Q over Lead: the lead reached `step` or a later one (cohort mode)."""
    from leads.choices import Qualification, StageCode, StageKind

    if step == "leads":
        return Q()
    if step == "returned":
        return _came_back()
    if step in RETURN_STEPS:
        return _came_back() & moved_on_after_return(step)
    if step in ("meeting", "proposal"):
        code = StageCode.MEETING if step == "meeting" else StageCode.PROPOSAL
        return Q(furthest_stage_id__in=_stage_ids_from(code))
    past_meeting = Q(furthest_stage_id__in=_stage_ids_from(StageCode.MEETING))
    if step == "sql":
        return Q(qualification=Qualification.SQL) | past_meeting
    if step == "mql":
        return Q(qualification__in=[Qualification.MQL, Qualification.SQL]) | past_meeting
    if step == "won":
        return Q(stage_id__in=_stage_ids_of_kind(StageKind.WON))
    if step == "rejected":
        return Q(stage_id__in=_stage_ids_of_kind(StageKind.LOST))
    if step == "nurture":
        return Q(stage_id__in=_stage_ids_of_kind(StageKind.NURTURE))
    raise ValueError(f"unknown step {step!r}")


def _event_rows(step: str):
    """The rows (with a `lead` and an `at` column) whose earliest one per lead is
    the step's event."""
    from leads.choices import Qualification
    from leads.models import LeadEvent, StageChange

    if step in ("mql", "sql"):
        levels = [Qualification.MQL, Qualification.SQL] if step == "mql" else [Qualification.SQL]
        return LeadEvent.objects.filter(kind=LeadEvent.Kind.QUALIFIED, data__to__in=levels), "created_at"
    # A close taken back by the card's Undo (and the undo itself) is not an event.
    return (
        StageChange.objects.filter(to_stage_id__in=_entry_stage_ids(step), undoes=None, undone_by=None),
        "changed_at",
    )


def moved_on_after_return(step: str) -> Q:
    """Q over Lead, for `returned_sql` or `returned_won`, cohort mode: the part of
    reached_condition() after "the lead came back", for a query whose leads are
    already known to have come back (the /nurture/ summary), where testing it
    again would cost a pass over every return for nothing."""
    from leads.choices import StageKind

    condition = Q()
    for rows, _at in _event_sources(step):
        condition |= Q(Exists(rows.filter(lead=OuterRef("pk"))))
    if step == "returned_won":
        condition &= Q(stage_id__in=_stage_ids_of_kind(StageKind.WON))
    return condition


def _came_back() -> Q:
    """Q over Lead: the lead has come back from nurture at least once — cohort
    `returned` itself, and the first test of `returned_sql` / `returned_won` in
    both modes, as one set of ids the database hashes once: the per-lead
    look-ups of the stage changes and the history after it then run for the
    few leads that came back, not for every lead of the period (a year's
    funnel at 1,000,000 leads spent 4 s on them, bench/reports.py)."""
    from leads.choices import ReturnState
    from leads.models import NurtureReturn

    return Q(pk__in=NurtureReturn.objects.filter(state=ReturnState.DONE).values("lead_id"))


def _after_a_return(at: str) -> Exists:
    """The event row (of a `lead`, at its column `at`) comes strictly after a
    return from nurture of its lead."""
    from leads.choices import ReturnState
    from leads.models import NurtureReturn

    return Exists(
        NurtureReturn.objects.filter(
            lead=OuterRef("lead"), state=ReturnState.DONE, returned_at__lt=OuterRef(at)
        )
    )


def _event_sources(step: str) -> list:
    """[(rows, at)]: the tables whose earliest row per lead is the step's event
    (one table, except `returned_sql`: a qualification or a stage entry)."""
    from leads.choices import Qualification, ReturnState, StageCode, StageKind
    from leads.models import LeadEvent, NurtureReturn, StageChange

    if step == "returned":
        return [(NurtureReturn.objects.filter(state=ReturnState.DONE), "returned_at")]
    if step in ("returned_sql", "returned_won"):
        entered = StageChange.objects.filter(undoes=None, undone_by=None).exclude(
            from_stage_id__in=_stage_ids_of_kind(StageKind.NURTURE)
        )
        if step == "returned_won":
            won = entered.filter(to_stage_id__in=_stage_ids_of_kind(StageKind.WON))
            return [(won.filter(_after_a_return("changed_at")), "changed_at")]
        qualified = LeadEvent.objects.filter(kind=LeadEvent.Kind.QUALIFIED, data__to=Qualification.SQL)
        entered = entered.filter(to_stage_id__in=_stage_ids_from(StageCode.MEETING))
        return [
            (qualified.filter(_after_a_return("created_at")), "created_at"),
            (entered.filter(_after_a_return("changed_at")), "changed_at"),
        ]
    return [_event_rows(step)]


def happened_condition(step: str, start=None, end=None) -> Q:
    """Q over Lead: the lead's first `step` event is in [start, end) (events mode).
    "First in the period" = one in the period and none before it (two EXISTS,
    which the database answers from the (lead, time) indexes)."""
    if step == "leads":
        condition = Q()
        if start is not None:
            condition &= Q(created_at__gte=start)
        if end is not None:
            condition &= Q(created_at__lt=end)
        return condition
    inside, before = Q(), Q()
    for rows, at in _event_sources(step):
        rows = rows.filter(lead=OuterRef("pk"))
        within = rows
        if start is not None:
            within = within.filter(**{f"{at}__gte": start})
        if end is not None:
            within = within.filter(**{f"{at}__lt": end})
        inside |= Q(Exists(within))
        if start is not None:
            before |= Q(Exists(rows.filter(**{f"{at}__lt": start})))
    if step in ("returned_sql", "returned_won"):
        inside = _came_back() & inside  # first, for the same reason as in reached_condition
    return inside & ~before if start is not None else inside


def first_event_rows(step: str, start, end):
    """The event rows (StageChange / LeadEvent, with their `at` field's name) that are
    their lead's FIRST `step` event and lie in [start, end): happened_condition()
    seen from the events' side — a lead's first event is in the period exactly when
    one of its rows in the period has no earlier row (ties at the same instant give
    one lead two rows: count leads, not rows). Counting these rows per period by
    their time needs no pass over the leads (the dashboard's `won`)."""
    rows, at = _event_rows(step)
    earlier = rows.filter(lead=OuterRef("lead"), **{f"{at}__lt": OuterRef(at)})
    return rows.filter(**{f"{at}__gte": start, f"{at}__lt": end}).exclude(Exists(earlier)), at


def first_at(step: str):
    """An expression over Lead: when the lead's first `step` event happened
    (None if never); `leads` is the arrival."""
    from django.db.models import F

    if step == "leads":
        return F("created_at")
    firsts = [
        Subquery(
            rows.filter(lead=OuterRef("pk"))
            .order_by()
            .values("lead")
            .annotate(first=Min(at))
            .values("first")[:1]
        )
        for rows, at in _event_sources(step)
    ]
    if len(firsts) == 1:
        return firsts[0]
    # The earlier of the two, either may be missing (LEAST is NULL on SQLite if one is).
    a, b = firsts
    return Least(Coalesce(a, b), Coalesce(b, a))


def _duplicate_reason():
    from leads.models import RejectionReason

    return RejectionReason.objects.filter(code=DUPLICATE_REASON).values("pk")


def counted_condition(prefix: str = "") -> Q:
    """Q: the lead (reached through ``prefix``, e.g. "lead__" from a deal) counts in
    reports: it is not rejected as a duplicate."""
    return ~Q(**{f"{prefix}rejection_reason_id__in": _duplicate_reason()})


class FunnelStepsQuerySet:
    """Mixed into LeadQuerySet (leads/models/lead.py)."""

    def counted(self):
        """Leads that count in reports: not rejected as a duplicate."""
        return self.filter(counted_condition())

    def duplicates(self):
        """The leads counted() leaves out (lead_rejection_reason_idx finds them): rows of
        other tables are "of counted leads" when their lead is not one of these."""
        return self.filter(rejection_reason_id__in=_duplicate_reason())

    def arrived(self, start=None, end=None):
        """Leads whose created_at is in [start, end) (either end may be open)."""
        return self.filter(happened_condition("leads", start, end))

    def reached(self, step: str):
        """Cohort semantics: reached `step` or any later one (see module doc)."""
        return self.filter(reached_condition(step))

    def rejected(self):
        return self.reached("rejected")

    def in_nurture(self):
        return self.reached("nurture")

    def happened(self, step: str, start=None, end=None):
        """Events semantics: the first `step` event of the lead is in [start, end)."""
        return self.filter(happened_condition(step, start, end))

    def qualified_mql_between(self, start=None, end=None):
        return self.happened("mql", start, end)

    def qualified_sql_between(self, start=None, end=None):
        return self.happened("sql", start, end)

    def entered_between(self, step: str, start=None, end=None):
        """First entry into the stage of `step` (meeting, proposal, won, rejected, nurture)."""
        return self.happened(step, start, end)

    def step(self, step: str, mode: str = "cohort", start=None, end=None):
        """The leads behind a report's count: counted, and in cohort mode arrived
        in [start, end) and reached `step`; in events mode `step` happened then."""
        qs = self.counted()
        if mode == "events":
            return qs.happened(step, start, end)
        return qs.arrived(start, end).reached(step)
