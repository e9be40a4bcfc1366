"""A hand-made dataset for the KPI tiles: today is 2026-03-20 (Moscow), the period
1–20 March and the previous one 9–28 February (20 days each).

March cohort (created 5 March, 10:00 Moscow), nine counted leads:
  L1  rep, won (deal), sql, contacted after 10 min, SLA met; deal 300 000 / 100 000 won 10 March
  L2  rep, proposal, sql, contacted after 20 min, SLA met; an open deal (never counted)
  L3  other_rep, meeting, mql, contacted after 40 min, SLA breached (contacted late)
  L4  other_rep, qualification, sql, not contacted, SLA running
  L5  rep, rejected not_target
  L6  rep, rejected spam
  L7  rep, rejected duplicate, with a won deal of 999 999 — counts nowhere
  L8  other_rep, rejected no_need after a meeting
  L9  rep, new, no product, idle
  L10 nobody's, new, idle
  (L2–L4 had a call on 19 March: open leads without a data-quality problem, 3 of 5)
Earlier arrivals:
  L11 other_rep, created 10 January, won 12 March: deal 200 000 / 50 000 and a
      repeat sale 50 000 / 20 000 on 15 March
  L12 rep, created 15 February, won 20 February: deal 100 000 / 40 000
Spend: 310 000 in March (20/31 → 200 000), 280 000 in February (20/28 → 200 000).
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from leads.choices import AttemptChannel, AttemptOutcome, DealStatus, Qualification
from leads.models import ContactAttempt, Deal, RejectionReason, Spend, StageChange
from sla.models import Breach, DelayOwner, SlaPolicy, SlaTimer
from tests.factories import DealFactory, LeadFactory, ProductFactory, SegmentFactory, SourceFactory, stage

MSK = ZoneInfo("Europe/Moscow")
TODAY = dt.datetime(2026, 3, 20, 12, 0, tzinfo=MSK)
ARRIVAL = dt.datetime(2026, 3, 5, 10, 0, tzinfo=MSK)


def at(y, m, d, h=12):
    return dt.datetime(y, m, d, h, 0, tzinfo=MSK)


def _timer(lead, state, *, met_after=None, breached=False):
    policy = SlaPolicy.objects.get(is_default=True)
    timer = SlaTimer.objects.create(
        lead=lead,
        kind="first_contact",
        policy=policy,
        state=state,
        started_at=lead.created_at,
        budget_seconds=900,
        due_at=lead.created_at + dt.timedelta(minutes=15),
        met_at=lead.created_at + dt.timedelta(minutes=met_after) if met_after else None,
        breached_at=lead.created_at + dt.timedelta(minutes=15) if breached else None,
    )
    if breached:
        Breach.objects.create(
            timer=timer,
            kind="first_contact",
            lead=lead,
            owner=lead.owner,
            team=lead.team,
            source=lead.source,
            delay_owner=DelayOwner.REP,
            due_at=timer.due_at,
        )
    return timer


def _won(lead, when, amount, margin, *, repeat=False):
    Deal.objects.create(
        lead=lead,
        contact=lead.contact,
        amount=amount,
        margin=margin,
        status=DealStatus.WON,
        closed_on=when.date(),
        is_repeat_sale=repeat,
    )


def build(rep, other_rep):
    source = SourceFactory(code="kpi-source")
    product, segment = ProductFactory(code="kpi-product"), SegmentFactory(code="kpi-segment")
    reason = {r.code: r for r in RejectionReason.objects.all()}
    full = {"source": source, "product": product, "segment": segment, "created_at": ARRIVAL}

    def lead(owner, stage_code, furthest=None, **extra):
        return LeadFactory(
            owner=owner,
            stage=stage(stage_code),
            furthest_stage=stage(furthest or stage_code),
            **{**full, **extra},
        )

    leads = {}
    leads[1] = lead(
        rep, "deal", qualification=Qualification.SQL, first_contact_at=ARRIVAL + dt.timedelta(minutes=10)
    )
    leads[2] = lead(
        rep, "proposal", qualification=Qualification.SQL, first_contact_at=ARRIVAL + dt.timedelta(minutes=20)
    )
    leads[3] = lead(
        other_rep,
        "meeting",
        qualification=Qualification.MQL,
        first_contact_at=ARRIVAL + dt.timedelta(minutes=40),
    )
    leads[4] = lead(other_rep, "qualification", qualification=Qualification.SQL)
    leads[5] = lead(rep, "lost", "lead", rejection_reason=reason["not_target"])
    leads[6] = lead(rep, "lost", "lead", rejection_reason=reason["spam"])
    leads[7] = lead(rep, "lost", "lead", rejection_reason=reason["duplicate"])
    leads[8] = lead(
        other_rep, "lost", "meeting", qualification=Qualification.SQL, rejection_reason=reason["no_need"]
    )
    leads[9] = lead(rep, "lead", product=None)
    leads[10] = lead(None, "lead")
    leads[11] = lead(other_rep, "deal", qualification=Qualification.SQL, created_at=at(2026, 1, 10))
    leads[12] = lead(rep, "deal", qualification=Qualification.SQL, created_at=at(2026, 2, 15))

    # Worked this week (not idle for the data-quality tile); L9 and L10 are idle.
    for n in (2, 3, 4):
        ContactAttempt.objects.create(
            lead=leads[n],
            channel=AttemptChannel.CALL,
            outcome=AttemptOutcome.NO_ANSWER,
            made_at=at(2026, 3, 19),
        )
    _timer(leads[1], "met", met_after=10)
    _timer(leads[2], "met", met_after=20)
    _timer(leads[3], "breached", met_after=40, breached=True)
    _timer(leads[4], "running")

    won = stage("deal")
    for n, when in ((1, at(2026, 3, 10)), (11, at(2026, 3, 12)), (12, at(2026, 2, 20))):
        StageChange.objects.create(lead=leads[n], from_stage=stage("proposal"), to_stage=won, changed_at=when)
    StageChange.objects.create(
        lead=leads[7], from_stage=stage("proposal"), to_stage=won, changed_at=at(2026, 3, 11)
    )
    _won(leads[1], at(2026, 3, 10), 300000, 100000)
    _won(leads[11], at(2026, 3, 12), 200000, 50000)
    _won(leads[11], at(2026, 3, 15), 50000, 20000, repeat=True)
    _won(leads[12], at(2026, 2, 20), 100000, 40000)
    _won(leads[7], at(2026, 3, 11), 999999, 0)
    DealFactory(lead=leads[2], status=DealStatus.OPEN)

    Spend.objects.create(source=source, month=dt.date(2026, 3, 1), amount=Decimal(310000))
    Spend.objects.create(source=source, month=dt.date(2026, 2, 1), amount=Decimal(280000))
    return leads
