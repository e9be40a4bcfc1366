"""The sweep: breach what is overdue, remind what is close, escalate what is
left unresolved. Run by Celery beat every few seconds and by `manage.py
sla_sweep`; any number may run at once.

Claiming is race-free: a batch of due timers is locked with SELECT … FOR UPDATE
SKIP LOCKED (concurrent sweeps take disjoint batches) and moved to "breached"
by an UPDATE that still requires state = running, so each timer is breached
once. Breach rows are unique per (timer, kind) in the database, and their
notifications are written to the outbox in the same transaction. On SQLite
(the embedded mode) FOR UPDATE is a no-op, but IMMEDIATE transactions take the
write lock at BEGIN, so sweeps simply queue.

A batch is handled in a constant number of queries. If anything in a batch
fails, the batch is rolled back and its timers are retried one by one, so one
bad row cannot wedge the rest; the bad row is logged and left running.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.apps import apps
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from revops import bulk
from revops.models import User
from revops.roles import Role
from sla import notify, webhooks
from sla.models import Breach, DelayOwner, NotificationKind, SlaTimer, TimerState
from sla.signals import breached as breached_signal
from sla.webhooks import webhooks_by_team

logger = logging.getLogger(__name__)

BATCH = 500
MAX_BATCHES = 200  # at most 100,000 breaches a pass; the next pass takes the rest
RETRY_SECONDS = 60


@dataclass
class SweepResult:
    breached: int = 0
    reminded: int = 0
    escalated: int = 0
    # What the registered steps did, by name ({"returned": 2}), in registration order.
    steps: dict[str, int] = field(default_factory=dict)

    def __str__(self):
        own = f"breached={self.breached} reminded={self.reminded} escalated={self.escalated}"
        return " ".join([own, *(f"{name}={n}" for name, n in self.steps.items())])

    def __getattr__(self, name):
        # result.returned reads the step of that name
        steps = self.__dict__.get("steps", {})
        if name in steps:
            return steps[name]
        raise AttributeError(name)


# Due-time work of the apps above sla, run in the same pass: name → fn(now) → count.
# An app registers its step at start-up (leads: "returned", its nurture returns),
# so the sweep runs it without importing the app (the layers contract).
DUE_STEPS: dict = {}


def register_due_step(name: str, fn) -> None:
    """Run `fn(now)` in every sweep pass after the SLA work; it returns how many
    things it did, printed as `name=N`. Registering a name again replaces it.
    `fn` claims its due rows itself, race-free, as breach_due does."""
    DUE_STEPS[name] = fn


def sweep(now: dt.datetime | None = None, batch: int = BATCH) -> SweepResult:
    now = now or timezone.now()
    result = SweepResult()
    for _ in range(MAX_BATCHES):
        breached, attempted = breach_due(now, batch)
        result.breached += breached
        if attempted < batch:
            break  # the last batch was not full: nothing more is due
    result.reminded = remind_due(now)
    result.escalated = escalate_due(now)
    for name, step in list(DUE_STEPS.items()):
        try:
            result.steps[name] = step(now)
        except Exception:
            # One app's failure must not stop the clock's own work in later passes.
            logger.exception("sweep step %s failed", name)
            result.steps[name] = 0
    return result


def lag(now: dt.datetime | None = None) -> float:
    """Seconds the oldest overdue running timer has waited (0 when none)."""
    now = now or timezone.now()
    oldest = SlaTimer.objects.filter(state=TimerState.RUNNING, due_at__lte=now).order_by("due_at").first()
    return max(0.0, (now - oldest.due_at).total_seconds()) if oldest else 0.0


# --- breaches -------------------------------------------------------------------------------------


def due_timers(now: dt.datetime):
    """Running timers past their deadline (the partial index `slatimer_running_due_idx`),
    minus those that failed recently and wait for their retry."""
    return SlaTimer.objects.filter(state=TimerState.RUNNING, due_at__lte=now).filter(
        Q(sweep_retry_at__isnull=True) | Q(sweep_retry_at__lte=now)
    )


def breach_due(now: dt.datetime, batch: int = BATCH) -> tuple[int, int]:
    """Breach up to `batch` due timers; returns (breached, attempted)."""
    candidates = list(due_timers(now).order_by("due_at").values_list("pk", flat=True)[:batch])
    if not candidates:
        return 0, 0
    try:
        with transaction.atomic():
            ids = _claim(now, candidates)
            if ids:
                _record_breaches(ids, now)
            return len(ids), len(candidates)
    except Exception:
        logger.exception("SLA sweep batch failed; retrying its timers one by one")
    # Slow path: one transaction per timer, so a poisoned row only stops itself;
    # it is retried after a pause instead of blocking every sweep.
    breached = 0
    for pk in candidates:
        try:
            with transaction.atomic():
                claimed = _claim(now, [pk])
                if claimed:
                    _record_breaches(claimed, now)
                    breached += 1
        except Exception:
            logger.exception("SLA timer %s could not be breached; retrying in %ss", pk, RETRY_SECONDS)
            SlaTimer.objects.filter(pk=pk).update(sweep_retry_at=now + dt.timedelta(seconds=RETRY_SECONDS))
    return breached, len(candidates)


def _claim(now, pks) -> list[int]:
    """Lock and breach those of `pks` still running and due; another sweep's
    locked rows are skipped, so concurrent sweeps never wait on each other."""
    due = SlaTimer.objects.select_for_update(skip_locked=True).filter(
        pk__in=pks, state=TimerState.RUNNING, due_at__lte=now
    )
    ids = list(due.values_list("pk", flat=True))
    if not ids:
        return []
    # The state condition makes the claim safe even without row locks.
    SlaTimer.objects.filter(pk__in=ids, state=TimerState.RUNNING).update(
        state=TimerState.BREACHED, breached_at=now
    )
    return list(
        SlaTimer.objects.filter(pk__in=ids, state=TimerState.BREACHED, breached_at=now).values_list(
            "pk", flat=True
        )
    )


def _owners_at(timers: list[dict]) -> dict[int, int | None]:
    """Who owned each timer's lead at its deadline, from the assignment history.
    A lead with no history (imported, or made before distribution) counts as
    owned by its current owner."""
    # The history is leads' table, named by its label as sla's foreign keys name
    # the lead ("leads.Lead"): sla, below leads, imports none of its code.
    Assignment = apps.get_model("leads", "Assignment")
    history: dict[int, list] = {}
    for a in (
        Assignment.objects.filter(lead_id__in={t["lead_id"] for t in timers})
        .order_by("created_at", "id")
        .values("lead_id", "to_owner_id", "created_at")
    ):
        history.setdefault(a["lead_id"], []).append(a)
    owners = {}
    for timer in timers:
        rows = history.get(timer["lead_id"])
        if not rows:
            owners[timer["id"]] = timer["lead__owner_id"]
            continue
        before = [r for r in rows if r["created_at"] <= timer["due_at"]]
        owners[timer["id"]] = before[-1]["to_owner_id"] if before else None
    return owners


# Plain values, not model instances: a batch may hold hundreds of timers.
TIMER_FIELDS = (
    "id",
    "kind",
    "due_at",
    "lead_id",
    "lead__owner_id",
    "lead__team_id",
    "lead__source_id",
    "lead__team__head_id",
    "policy__escalate_after_seconds",
    "policy__reassign_on_breach",
)


def _record_breaches(ids: list[int], now: dt.datetime) -> None:
    timers = list(SlaTimer.objects.filter(pk__in=ids).values(*TIMER_FIELDS))
    owners = _owners_at(timers)
    breaches = []
    for timer in timers:
        owner_id = owners[timer["id"]]
        escalate_after = timer["policy__escalate_after_seconds"]
        breaches.append(
            Breach(
                timer_id=timer["id"],
                kind=timer["kind"],
                lead_id=timer["lead_id"],
                owner_id=owner_id,
                team_id=timer["lead__team_id"],
                source_id=timer["lead__source_id"],
                delay_owner=DelayOwner.REP if owner_id else DelayOwner.SYSTEM,
                due_at=timer["due_at"],
                created_at=now,
                escalate_at=now + dt.timedelta(seconds=escalate_after)
                if escalate_after is not None
                else None,
            )
        )
    # unique (timer, kind): a second breach of a timer fails the whole batch.
    # bulk.insert, not bulk_create: a busy pass writes thousands of rows here,
    # and bench/sla.py shows bulk_create's per-value work over the 1 s target.
    created = bulk.insert(breaches)
    if any(b.pk is None for b in created):  # a backend that cannot return ids
        created = list(Breach.objects.filter(timer_id__in=ids))
    by_timer = {b.timer_id: b for b in created}
    people = User.objects.in_bulk(
        ({t["lead__owner_id"] for t in timers} | {t["lead__team__head_id"] for t in timers}) - {None}
    )
    hooks = webhooks_by_team({t["lead__team_id"] for t in timers})
    rows = []
    for timer in timers:
        breach, lead_id = by_timer[timer["id"]], timer["lead_id"]
        event = f"breach:{breach.pk}"
        recipients = [people.get(timer["lead__owner_id"]), people.get(timer["lead__team__head_id"])]
        params = {"lead": lead_id, "kind": timer["kind"], "due_at": timer["due_at"].isoformat()}
        rows += notify.build(
            recipients, NotificationKind.SLA_BREACH, lead_id=lead_id, event=event, params=params
        )
        payload = {
            "event": "sla.breach",
            "breach": breach.pk,
            "lead": lead_id,
            "timer_kind": timer["kind"],
            "delay_owner": breach.delay_owner,
            "due_at": timer["due_at"].isoformat(),
            "breached_at": now.isoformat(),
        }
        team_hooks = hooks.get(timer["lead__team_id"], [])
        rows += webhooks.build(team_hooks, "sla.breach", event=event, lead_id=lead_id, payload=payload)
    # A dedupe key already there is the same notification again: skipped.
    bulk.insert(rows, ignore_conflicts=True)
    # What happens to the lead is leads' business (its receiver reassigns).
    reassign = [t["lead_id"] for t in timers if t["policy__reassign_on_breach"] and t["lead__owner_id"]]
    breached_signal.send(sender=Breach, breaches=created, reassign=reassign, at=now)


# --- reminders and escalations -------------------------------------------------------------------


def remind_due(now: dt.datetime) -> int:
    reminded = 0
    due = list(
        SlaTimer.objects.filter(
            state=TimerState.RUNNING, reminded_at__isnull=True, remind_at__lte=now
        ).values_list("pk", flat=True)[:BATCH]
    )
    for pk in due:
        with transaction.atomic():
            if not SlaTimer.objects.filter(pk=pk, state=TimerState.RUNNING, reminded_at__isnull=True).update(
                reminded_at=now
            ):
                continue  # another sweep sent it, or the timer ended meanwhile
            timer = SlaTimer.objects.select_related("lead__owner", "lead__team__head").get(pk=pk)
            lead = timer.lead
            recipients = [lead.owner] if lead.owner_id else [lead.team.head if lead.team_id else None]
            notify.notify(
                recipients,
                NotificationKind.SLA_REMINDER,
                lead=lead,
                event=f"reminder:{timer.pk}",
                params={"lead": lead.pk, "due_at": timer.due_at.isoformat()},
            )
            reminded += 1
    return reminded


def escalate_due(now: dt.datetime) -> int:
    escalated = 0
    due = list(
        Breach.objects.filter(
            escalated_at__isnull=True, resolved_at__isnull=True, escalate_at__lte=now
        ).values_list("pk", flat=True)[:BATCH]
    )
    if not due:
        return 0
    executives = list(User.objects.filter(role=Role.EXECUTIVE, is_active=True))
    for pk in due:
        with transaction.atomic():
            if not Breach.objects.filter(pk=pk, escalated_at__isnull=True, resolved_at__isnull=True).update(
                escalated_at=now
            ):
                continue
            breach = Breach.objects.select_related("lead").get(pk=pk)
            notify.notify(
                executives,
                NotificationKind.SLA_ESCALATION,
                lead=breach.lead,
                event=f"escalation:{breach.pk}",
                params={"lead": breach.lead_id},
            )
            escalated += 1
    return escalated
