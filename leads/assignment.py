"""Distribution: which rep gets a lead, and why.

A lead goes to the team of the first matching routing rule, then to one of that
team's reps who is on shift, not absent and under the daily cap, by the team's
mode. Every decision — including "nobody can take it now" — is written as an
Assignment row with its reasons, so a head can always answer "why did rep2 get
this?". Reasons are stored as codes with parameters and rendered in the
reader's language (see `describe`).
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.actions import Conflict, Invalid, lock_lead
from leads.choices import AssignmentKind, StageKind
from leads.models import Assignment, Lead, RoutingRule, Stage
from revops import refcache
from revops.models import Absence, DistributionMode, Team, User
from revops.roles import Role
from sla.availability import availability
from sla.calendars import schedule_or_24x7, team_calendar
from sla.clock import first_contact_time_left, recompute_running
from sla.models import NotificationKind, SlaTimer
from sla.notify import notify

logger = logging.getLogger(__name__)


@dataclass
class Decision:
    team: Team | None
    owner: User | None
    reasons: list[dict] = field(default_factory=list)

    def why(self, code: str, **params):
        self.reasons.append({"code": code, **({"params": params} if params else {})})


def _routing() -> tuple[list[RoutingRule], Team | None]:
    """The active rules and the default team, from the per-process reference
    cache (read for every lead that arrives)."""

    def load():
        rules = list(
            RoutingRule.objects.filter(is_active=True).select_related(
                "team__calendar", "source", "segment", "product"
            )
        )
        default = Team.objects.filter(kind=Team.Kind.SALES).select_related("calendar").order_by("id").first()
        return rules, default

    return refcache.get("routing", load)


def route(lead: Lead, rules=None) -> tuple[Team | None, dict | None]:
    """The team for `lead` by the routing rules (first match wins)."""
    cached_rules, team = _routing()
    for rule in cached_rules if rules is None else rules:
        if rule.matches(lead):
            return rule.team, {"code": "routed", "params": {"rule": str(rule)}}
    return team, ({"code": "default_team", "params": {"team": team.name}} if team else None)


def _start_of_local_day(at: dt.datetime, tz) -> dt.datetime:
    return dt.datetime.combine(at.astimezone(tz).date(), dt.time.min, tzinfo=tz)


def smooth_cycle(weights: list[tuple[User, int]]) -> list[User]:
    """One full cycle of nginx's smooth weighted round-robin: each rep appears
    `weight` times, spread out (weights 2:1 give A, B, A)."""
    total = sum(w for _, w in weights)
    current = {rep.pk: 0 for rep, _weight in weights}
    cycle = []
    for _step in range(total):
        for rep, weight in weights:
            current[rep.pk] += weight
        best = max(weights, key=lambda item: (current[item[0].pk], -item[0].pk))[0]
        current[best.pk] -= total
        cycle.append(best)
    return cycle


def next_ticket(team: Team) -> int:
    """Bump and read the team's distribution counter in one statement. The
    row stays locked until the caller's transaction ends, so two picks never
    get the same ticket."""
    table = connection.ops.quote_name(Team._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET rr_counter = rr_counter + 1 WHERE id = %s RETURNING rr_counter", [team.pk]
        )
        return cursor.fetchone()[0]


LEAST_MODES = (DistributionMode.LEAST_OPEN, DistributionMode.LEAST_TODAY)


def roster(team: Team) -> list[User]:
    """The team's reps who take leads, with their shifts and current absences,
    from the reference cache: distribution reads it for every new lead, while
    it changes when someone edits a rep, a shift or an absence (which clears
    the cache here at once, elsewhere within its lifetime). Shared instances:
    read-only."""

    def load():
        recent = timezone.localdate() - dt.timedelta(days=2)  # any time zone's "today" is later
        return list(
            User.objects.filter(team=team, role=Role.REP, is_active=True, accepts_leads=True)
            .prefetch_related("shifts", Prefetch("absences", Absence.objects.filter(ends_on__gte=recent)))
            .order_by("id")
        )

    return refcache.get(f"roster:{team.pk}", load)


def _counted(team: Team) -> bool:
    # Daily caps and the least-loaded modes decide by counting earlier picks.
    return (
        team.daily_cap is not None
        or team.distribution_mode in LEAST_MODES
        or any(rep.daily_lead_cap is not None for rep in roster(team))
    )


def picks_in_turn(team: Team | None) -> bool:
    """Whether a pick for `team` (or for its fallback team) must see every
    earlier one: with a daily cap, or in a least-loaded mode. Simultaneous picks
    that each count the others' leads as not there yet all go to the same rep
    (a burst of eight to one rep limited to two a day, as a test showed)."""
    if team is None:
        return False
    return _counted(team) or (team.fallback_team_id is not None and _counted(team.fallback_team))


# pg_advisory_xact_lock(PICKS_LOCK, 0): one key for all such picks, so a pick
# that falls through to another team can never deadlock with its mirror.
PICKS_LOCK = 7301


def _take_turn() -> None:
    """Counted picks of new leads (what caps and the least-loaded modes count)
    run one at a time, each holding this lock until its transaction ends, so
    the next one counts the last. Taken in `decide`, after the caller's lock on
    the lead's row and never before one, so it cannot deadlock. Outside a
    transaction there is nothing to hold it for; SQLite serialises writers by
    itself."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [PICKS_LOCK])


def choose_rep(team: Team, at: dt.datetime, decision: Decision, *, exclude=()) -> User | None:
    """Pick a rep of `team` for a lead at `at`, recording why others were
    skipped. Two simultaneous picks never get the same ticket; counted picks of
    new leads run one after the other (see decide)."""
    excluded = {u.pk for u in exclude if u}
    reps = [rep for rep in roster(team) if rep.pk not in excluded]
    if not reps:
        decision.why("no_reps", team=team.name)
        return None
    schedule = schedule_or_24x7(team_calendar(team))
    since = _start_of_local_day(at, schedule.tz)
    counts_matter = (
        team.daily_cap is not None
        or team.distribution_mode == DistributionMode.LEAST_TODAY
        or any(rep.daily_lead_cap is not None for rep in reps)
    )
    # Today's leads per rep, only when a cap or the mode needs them (a query per lead).
    today = (
        dict(
            Assignment.objects.filter(
                to_owner__in=reps, created_at__gte=since, kind__in=[AssignmentKind.AUTO, AssignmentKind.QUEUE]
            )
            .values_list("to_owner")
            .annotate(n=Count("id"))
            .order_by()
        )
        if counts_matter
        else {}
    )
    eligible = []
    for rep in reps:
        state = availability(rep, schedule, at)
        if not state.available:
            decision.why(state.reason, user=rep.username)
            continue
        cap = rep.daily_lead_cap if rep.daily_lead_cap is not None else team.daily_cap
        if cap is not None and today.get(rep.pk, 0) >= cap:
            decision.why("cap_reached", user=rep.username, cap=cap)
            continue
        eligible.append(rep)
    if not eligible:
        decision.why("nobody_available", team=team.name)
        return None

    mode = team.distribution_mode
    decision.why("mode", mode=mode)
    if mode in (DistributionMode.ROUND_ROBIN, DistributionMode.WEIGHTED):
        # The team's ticket counter walks a smooth weighted cycle of the reps
        # eligible now. Reps away are simply not in the cycle, so coming back
        # earns them no backlog of leads; and the counter is one short UPDATE,
        # so concurrent intakes never wait for each other's whole transaction.
        weights = [(rep, rep.lead_weight if mode == DistributionMode.WEIGHTED else 1) for rep in eligible]
        cycle = smooth_cycle(weights)
        if len(set(cycle)) == 1:
            return cycle[0]  # one rep on shift: nothing to rotate, no ticket spent
        ticket = next_ticket(team)
        chosen, previous = cycle[(ticket - 1) % len(cycle)], cycle[(ticket - 2) % len(cycle)]
        if ticket > 1 and previous != chosen:  # the place before this one in the rotation
            decision.why("next_after", user=previous.username)
        return chosen
    # The least-loaded modes break ties by who waited longest for a lead; the
    # cached roster does not carry that moment, so it is read fresh.
    waited = dict(
        User.objects.filter(pk__in=[rep.pk for rep in eligible]).values_list("pk", "last_assigned_at")
    )
    oldest_first = lambda rep: (waited.get(rep.pk) or dt.datetime.min.replace(tzinfo=dt.UTC), rep.pk)  # noqa: E731
    if mode == DistributionMode.LEAST_OPEN:
        open_counts = dict(
            Lead.objects.open()
            .filter(owner__in=eligible)
            .values_list("owner")
            .annotate(n=Count("id"))
            .order_by()
        )
        chosen = min(eligible, key=lambda rep: (open_counts.get(rep.pk, 0), oldest_first(rep)))
        decision.why("least_open", user=chosen.username, count=open_counts.get(chosen.pk, 0))
    else:  # LEAST_TODAY
        chosen = min(eligible, key=lambda rep: (today.get(rep.pk, 0), oldest_first(rep)))
        decision.why("least_today", user=chosen.username, count=today.get(chosen.pk, 0))
    return chosen


def decide(lead: Lead, at: dt.datetime) -> Decision:
    """Where a new lead goes by the rules. Callers decide in the transaction
    that records the decision: for teams whose picks count earlier ones
    (picks_in_turn) the turn taken here lasts until that transaction ends."""
    team, routed = (lead.team, None) if lead.team_id else route(lead)
    decision = Decision(team=team, owner=None)
    if routed:
        decision.reasons.append(routed)
    if team is None:
        decision.why("no_team")
        return decision
    if picks_in_turn(team):
        _take_turn()
    decision.owner = choose_rep(team, at, decision)
    if decision.owner is None and team.fallback_team_id:
        fallback = team.fallback_team
        decision.why("fallback_team", team=fallback.name)
        owner = choose_rep(fallback, at, decision)
        if owner is not None:
            decision.team, decision.owner = fallback, owner
    if decision.owner is None:
        decision.why("waits_in_queue", team=decision.team.name)
    return decision


def _record(
    lead, decision_team, owner, kind, by, reasons, at, timer=None, *, notify_owner=True
) -> Assignment:
    """Give `lead` to `owner` in `decision_team` and write why, in the caller's
    transaction. `timer`: the lead's first-contact timer if the caller has it fresh;
    `notify_owner=False`: the caller tells the owner itself (a return from nurture)."""
    previous = lead.owner
    team_changed = lead.team_id != (decision_team.pk if decision_team else None)
    lead.owner, lead.team = owner, decision_team
    lead.save(update_fields=["owner", "team", "updated_at"])
    if team_changed:
        # Another team may work another calendar: the running clock follows it.
        recompute_running(SlaTimer.objects.filter(lead=lead))
        timer = None  # its deadline may just have moved
    # The Assignment row of the owner and team as they now are, and the new
    # owner's notification.
    assignment = Assignment.objects.create(
        lead=lead,
        team=lead.team,
        from_owner=previous,
        to_owner=owner,
        assigned_by=by,
        kind=kind,
        reasons=reasons,
        sla_left_seconds=_sla_left_seconds(lead, at, timer),
        created_at=at,
    )
    if owner is None:
        return assignment
    if lead.team is not None and lead.team.distribution_mode in LEAST_MODES:
        # Only the least-loaded modes read it (their tie-break); round-robin
        # teams skip the write, which would queue their intakes on the rep's row.
        User.objects.filter(pk=owner.pk).update(last_assigned_at=at)
    if notify_owner and (by is None or by.pk != owner.pk):  # nobody needs telling what they did themselves
        # A lead new to the rep (from intake or the waiting queue) reads differently
        # from one handed over by a head.
        new = kind in (AssignmentKind.AUTO, AssignmentKind.QUEUE)
        notify(
            [owner],
            NotificationKind.NEW_LEAD if new else NotificationKind.ASSIGNED,
            lead=lead,
            event=f"assignment:{assignment.pk}",
            params={"lead": lead.pk, "source": lead.source.name},
        )
    return assignment


def _sla_left_seconds(lead, at, timer=None):
    left = first_contact_time_left(lead, at, timer)
    return None if left is None else int(left.total_seconds())


def assign_new_lead(lead: Lead, *, at: dt.datetime, routed=None, timer=None) -> Assignment | None:
    """Give `lead`, just written in the caller's transaction, to a rep by the
    rules, or record that it waits in its team's queue. `routed`: why the lead
    got its team (see route); `timer`: its first-contact timer, just started.

    Distribution must never cost a lead: if anything here fails (a lock
    timeout, a bug in a rule), the work rolls back to a savepoint, the failure
    is logged, and the lead stays unassigned in its team's queue, where
    assign_waiting gives it out."""
    team_before = lead.team
    try:
        with transaction.atomic():
            decision = decide(lead, at)
            if routed:
                decision.reasons.insert(0, routed)
            return _record(
                lead, decision.team, decision.owner, AssignmentKind.AUTO, None, decision.reasons, at, timer
            )
    except Exception:
        logger.exception("lead %s could not be given out now; it waits in its team's queue", lead.pk)
        lead.owner, lead.team = None, team_before  # as the database has it after the rollback
        return None


def assign_automatically(lead: Lead, *, kind=AssignmentKind.AUTO, at=None) -> Assignment | None:
    """Decide by the rules and record it in one transaction — unless someone
    assigned the lead or closed it meanwhile. Returns the assignment, or None
    when nothing was done."""
    at = at or timezone.now()
    with transaction.atomic():
        # Lock the row and re-read only what decides "still ours to assign".
        state = (
            Lead.objects.select_for_update()
            .filter(pk=lead.pk)
            .values_list("owner_id", "stage_id", "team_id")
            .order_by()
            .first()
        )
        if state is None or state[0] is not None or state[1] not in Stage.ids_of(StageKind.OPEN):
            return None
        lead.owner_id, lead.team_id = None, state[2]
        decision = decide(lead, at)
        return _record(lead, decision.team, decision.owner, kind, None, decision.reasons, at)


@transaction.atomic
def assign_manually(
    lead: Lead, owner: User, by: User, *, kind=AssignmentKind.MANUAL, at=None, reasons=None
) -> Assignment:
    """A head (or admin) gives the lead to `owner`. A head may give only to
    people of their own team. `kind` and `reasons` say why when it is more than
    a hand-picked owner (the board's reassignment of a breached lead)."""
    at = at or timezone.now()
    lead = lock_lead(lead)
    if owner.role not in (Role.REP, Role.SALES_HEAD) or not owner.is_active or owner.team_id is None:
        raise Invalid({"owner": [_("Leads can be given only to active sales people in a team.")]})
    if by.role == Role.SALES_HEAD and owner.team_id != by.team_id:
        raise Invalid({"owner": [_("You can give leads only to people of your team.")]})
    if lead.stage.kind != StageKind.OPEN:
        raise Conflict(_("Only open leads can be reassigned."))
    if lead.owner_id == owner.pk:
        raise Conflict(_("The lead already belongs to this person."))
    reasons = reasons or [{"code": "manual", "params": {"by": by.username}}]
    return _record(lead, owner.team, owner, kind, by, reasons, at)


def assign_on_entry(lead: Lead, owner: User, by: User, *, at: dt.datetime) -> Assignment:
    """A lead typed in by hand goes to the owner its author chose."""
    reasons = [{"code": "entered_by", "params": {"by": by.username if by else "—"}}]
    return _record(lead, owner.team, owner, AssignmentKind.MANUAL, by, reasons, at)


def assign_waiting(limit: int = 200, at=None, scan: int = 5000) -> int:
    """Give the leads waiting in team queues to reps who are now on shift.
    Oldest first; each lead in its own short transaction; rows another worker
    holds are skipped. A team found with nobody available is skipped for the
    rest of the pass, so a closed team's backlog never blocks the others.
    Returns how many got an owner."""
    at = at or timezone.now()
    done = 0
    blocked_teams: set[int] = set()
    waiting = (
        Lead.objects.open()
        .filter(owner__isnull=True)
        .order_by("created_at", "id")
        .values_list("pk", "team_id")[:scan]
    )
    open_stages = Stage.ids_of(StageKind.OPEN)
    for pk, team_id in waiting:
        if done >= limit:
            break
        if team_id in blocked_teams:
            continue
        with transaction.atomic():
            lead = (
                Lead.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=pk, owner__isnull=True, stage_id__in=open_stages)
                .first()
            )
            if lead is None:
                continue
            decision = decide(lead, at)
            if decision.owner is None:
                if team_id is not None:
                    blocked_teams.add(team_id)
                continue  # still nobody; the first "waits" record stands
            _record(lead, decision.team, decision.owner, AssignmentKind.QUEUE, None, decision.reasons, at)
            done += 1
    return done


@transaction.atomic
def redistribute_open_leads(rep: User, by: User, at=None) -> int:
    """Hand a leaving rep's open leads to the team by its rules; those nobody
    can take now wait in the team's queue. Returns how many got a new owner."""
    at = at or timezone.now()
    moved = 0
    leads = list(Lead.objects.select_for_update(of=("self",)).open().filter(owner=rep).order_by("created_at"))
    for lead in leads:
        decision = Decision(team=lead.team or rep.team, owner=None)
        decision.why("bulk", user=rep.username, by=by.username)
        if decision.team is not None:
            decision.owner = choose_rep(decision.team, at, decision, exclude=[rep])
        if decision.owner is None:
            decision.why("waits_in_queue", team=decision.team.name if decision.team else "—")
        _record(lead, decision.team, decision.owner, AssignmentKind.BULK, by, decision.reasons, at)
        moved += decision.owner is not None
    return moved


@transaction.atomic
def hand_over_open_leads(rep: User, to: User, by: User, at=None) -> list[int]:
    """Give every open lead of `rep` (absent, leaving) to `to`, one chosen rep.
    Returns the ids of the leads handed over."""
    at = at or timezone.now()
    leads = list(
        Lead.objects.select_for_update(of=("self",)).open().filter(owner=rep).order_by("created_at", "id")
    )
    reasons = [{"code": "handed_over", "params": {"user": rep.username, "by": by.username}}]
    for lead in leads:
        _record(lead, to.team, to, AssignmentKind.BULK, by, reasons, at)
    return [lead.pk for lead in leads]


REASON_TEXTS = {
    "routed": lambda p: _("routing rule “%(rule)s”") % p,
    "default_team": lambda p: _("no routing rule matched; default team %(team)s") % p,
    "no_team": lambda p: _("no sales team exists"),
    "no_reps": lambda p: _("team %(team)s has no reps taking leads") % p,
    "absent": lambda p: _("%(user)s is absent") % p,
    "off_shift": lambda p: _("%(user)s is not on shift") % p,
    "calendar_closed": lambda p: _("%(user)s: outside the team's working hours") % p,
    "cap_reached": lambda p: _("%(user)s reached the daily cap of %(cap)s") % p,
    "nobody_available": lambda p: _("nobody in %(team)s can take it now") % p,
    "fallback_team": lambda p: _("tried the fallback team %(team)s") % p,
    "waits_in_queue": lambda p: _("waits in the queue of %(team)s") % p,
    "mode": lambda p: str(DistributionMode(p["mode"]).label),
    "next_after": lambda p: _("next after %(user)s") % p,
    "least_open": lambda p: _("%(user)s has the fewest open leads (%(count)s)") % p,
    "least_today": lambda p: _("%(user)s has the fewest leads today (%(count)s)") % p,
    "manual": lambda p: _("assigned by %(by)s") % p,
    "entered_by": lambda p: _("entered by hand by %(by)s") % p,
    "imported": lambda p: _("imported from %(file)s") % p,
    "bulk": lambda p: _("%(user)s's leads redistributed by %(by)s") % p,
    "sla_breach": lambda p: _("taken from %(user)s after an SLA breach") % p,
    "sla_breach_by": lambda p: _("given to another rep by %(by)s after an SLA breach") % p,
    "handed_over": lambda p: _("%(user)s's leads handed over by %(by)s") % p,
    "back_from_nurture": lambda p: _("back from nurture"),
    "owner_inactive": lambda p: _("%(user)s no longer works here") % p,
    "dispute_overturned": lambda p: _("reopened: the rejection was overturned on dispute"),
}


# Reason parameters that hold a login: stored as logins (stable, what the API
# gives), shown as the person's name (describe's `names`).
PEOPLE_PARAMS = ("user", "by")


def logins_in(reasons: list[dict]) -> set[str]:
    """The logins named by these reasons, to look their names up in one query."""
    return {
        login
        for reason in reasons or []
        for key, login in (reason.get("params") or {}).items()
        if key in PEOPLE_PARAMS and isinstance(login, str)
    }


def names_of(logins) -> dict[str, str]:
    """login → the person's name (full name, or the login when there is none)."""
    return {user.username: str(user) for user in User.objects.filter(username__in=set(logins))}


def describe(reasons: list[dict], names: dict[str, str] | None = None) -> str:
    """The reasons of an Assignment as one sentence in the active language, with
    people by name where `names` (names_of) knows them."""
    names = names or {}
    parts = []
    for reason in reasons or []:
        render = REASON_TEXTS.get(reason.get("code"))
        if render is None:
            continue
        params = dict(reason.get("params") or {})
        for key in PEOPLE_PARAMS:
            if isinstance(params.get(key), str):
                params[key] = names.get(params[key], params[key])
        try:
            parts.append(str(render(params)))
        except (KeyError, ValueError):
            parts.append(reason.get("code", ""))
    return "; ".join(parts)


def reassign_after_breach(lead: Lead, at: dt.datetime) -> Assignment | None:
    """The policy says a breached lead goes to someone else in the team."""
    lead = lock_lead(lead)
    if lead.team is None or lead.owner is None:
        return None
    decision = Decision(team=lead.team, owner=None)
    decision.why("sla_breach", user=lead.owner.username)
    owner = choose_rep(lead.team, at, decision, exclude=[lead.owner])
    if owner is None:
        return None  # nobody else can take it now: it stays where it is
    return _record(lead, lead.team, owner, AssignmentKind.SLA, None, decision.reasons, at)
