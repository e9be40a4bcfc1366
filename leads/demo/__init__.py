"""Demo data: «ТехноСфера», a Russian B2B company with a year of leads, for
`manage.py demo_data` (and so `make run`).

- leads.demo.company — the people and the reference data, as plain values;
- leads.demo.setup — upserting them (sources, campaigns, spend, teams, calendars,
  routing, users, shifts, a vacation), telling demo leads from real ones;
- leads.demo.generator — when people write and what they ask for; each lead goes
  through the product's intake and distribution;
- leads.demo.story — what the rep did, through the product's actions, with the SLA
  sweep run at the moments it would have acted.

So what a user sees after `make run` is what the product would have done with
these requests: the demo re-implements none of its rules.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from leads.choices import DealStatus, Qualification, StageCode, StageKind
from leads.demo.company import DEFAULT_LEADS, DEMO_PASSWORD, DEMO_USERNAMES, MARGIN_SHARES, TEAM_SETUP
from leads.demo.feedback import add_feedback
from leads.demo.generator import Generator
from leads.demo.loop import add_loop
from leads.demo.setup import (
    delete_demo_leads,
    demo_cutoff,
    demo_leads,
    demo_users_exist,
    demo_window,
    ensure_absence,
    ensure_calendars,
    ensure_reference_data,
    ensure_routing,
    ensure_users,
    real_leads,
)
from leads.models import Contact, Deal, Lead, Stage
from revops import refcache
from revops.models import Team, User
from sla.models import Breach, Notification, SlaTimer, TimerKind, TimerState

__all__ = [
    "DEFAULT_LEADS",
    "DEMO_PASSWORD",
    "DEMO_USERNAMES",
    "MARGIN_SHARES",
    "RealLeadsPresent",
    "Result",
    "demo_leads",
    "demo_users_exist",
    "real_leads",
    "run",
    "snapshot",
    "summary",
]


class RealLeadsPresent(Exception):
    """The database holds leads the demo did not make; `force` overrides."""

    def __init__(self, count: int):
        super().__init__(count)
        self.count = count


@dataclass
class Result:
    generated: bool
    message: str
    summary: dict


def summary() -> dict:
    leads = demo_leads()
    by_status = dict(leads.values_list("stage__kind").annotate(n=Count("id")).order_by())
    position = dict(Stage.objects.values_list("code", "position"))
    funnel = leads.aggregate(
        mql=Count("id", filter=~Q(qualification=Qualification.NONE)),
        sql=Count("id", filter=Q(qualification=Qualification.SQL)),
        meeting=Count("id", filter=Q(furthest_stage__position__gte=position[StageCode.MEETING])),
        proposal=Count("id", filter=Q(furthest_stage__position__gte=position[StageCode.PROPOSAL])),
        won=Count("id", filter=Q(stage__kind=StageKind.WON)),
    )
    deals = Deal.objects.filter(lead__in=leads).aggregate(won=Count("id", filter=Q(status=DealStatus.WON)))
    lost_after_proposal = leads.filter(stage__kind=StageKind.LOST, furthest_stage__code=StageCode.PROPOSAL)
    timers = dict(
        SlaTimer.objects.filter(lead__in=leads, kind=TimerKind.FIRST_CONTACT)
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "leads": sum(by_status.values()),
        "by_status": {kind: by_status.get(kind, 0) for kind in StageKind.values},
        "funnel": funnel,
        "deals_won": deals["won"],
        "deals_lost": lost_after_proposal.count(),
        "users": User.objects.filter(username__in=DEMO_USERNAMES).count(),
        "contacts": Contact.objects.filter(leads__in=leads).distinct().count(),
        "timers": {state: timers.get(state, 0) for state in TimerState.values},
        "breaches": Breach.objects.filter(lead__in=leads).count(),
    }


def run(
    *,
    leads: int = DEFAULT_LEADS,
    seed: int = 1,
    today: date,
    reset: bool = False,
    force: bool = False,
    now: datetime | None = None,
) -> Result:
    """Upsert the reference data, teams and users; generate leads unless demo leads
    exist (or `reset`, which replaces them). Refuses (RealLeadsPresent) when the
    database holds leads the demo did not make, unless `force`: those are never
    touched, even by `reset`. `now` (default: the clock) only decides where `today`
    is cut."""
    real = real_leads().count()
    if real and not force:
        raise RealLeadsPresent(real)
    with transaction.atomic():
        ref = ensure_reference_data(today, seed, leads)
        users = ensure_users(ensure_calendars())
        ensure_routing(ref, users)
        ensure_absence(users, today)
    if demo_leads().exists() and not reset:
        return Result(
            False, "Demo leads already exist; nothing generated (use --reset to regenerate).", summary()
        )
    cutoff = demo_cutoff(today, now or timezone.now())
    first_notification = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with transaction.atomic():
        if reset:
            delete_demo_leads()
        # The demo teams' rotation starts afresh, so the same seed gives the same owners.
        Team.objects.filter(code__in=TEAM_SETUP).update(rr_counter=0)
        refcache.clear()  # rosters and routing as just upserted
        Generator(ref, users, seed=seed, today=today, cutoff=cutoff).generate(leads)
        generated = demo_leads()
        add_feedback(generated, seed=seed, cutoff=cutoff)  # sales' notes for marketing (issue #15)
        add_loop(
            generated, seed=seed, first=demo_window(today)[0], cutoff=cutoff
        )  # tracks, disputes, versions
        # The history happened before anyone was watching: its notifications would
        # all arrive at once on the first start (and its e-mails go out).
        Notification.objects.filter(pk__gt=first_notification, lead__in=generated).delete()
        # Actions stamp updated_at with the wall clock; a lead was last touched at
        # its last move.
        generated.update(updated_at=Coalesce(F("stage_changed_at"), F("created_at")))
    return Result(True, f"Generated {leads} leads.", summary())


def snapshot() -> list[tuple]:
    """What must be identical between two runs with the same seed and date (for tests)."""
    return list(
        Lead.objects.order_by("created_at", "id").values_list(
            "contact__phone",
            "contact__email",
            "source__code",
            "campaign__code",
            "stage__code",
            "furthest_stage__code",
            "qualification",
            "created_at",
            "first_contact_at",
            "closed_at",
            "owner__username",
            "rejection_reason__code",
        )
    )
