"""The rep's queue: own open leads, most urgent first, with one SLA badge each.
A fixed number of queries whatever the queue's length."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, OuterRef, Prefetch, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from leads.choices import PRIORITY_RANK, NextStep, StageKind
from leads.models import Assignment, ContactAttempt, InboundRequest, Lead, Stage
from sla.clock import LIVE
from sla.display import badge_for
from sla.models import SlaTimer, TimerKind

LEADS_URL = "/leads/"  # leads.urls is mounted here (config/urls.py); a test checks it

# Urgency: SLA clocks first (the first call, agreed call-backs), then the dated next
# step (overdue, then none, then planned: see next_step_null), then priority.
ORDERS = {
    "urgency": ["next_due_null", "next_due", "next_step_null", "next_step_at", "priority_rank", "created_at"],
    "newest": ["-created_at", "-id"],
    "priority": ["priority_rank", "next_due_null", "next_due", "created_at"],
}


def _count(model, **filters):
    return Coalesce(
        Subquery(
            model.objects.filter(lead=OuterRef("pk"), **filters)
            .values("lead")
            .annotate(n=Count("id"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


# What a row shows, and nothing else: the queue is the page a rep reloads all
# day, and every joined table or column is paid for on each of its rows.
ROW_FIELDS = (
    "contact__name",
    "contact__company",
    "contact__phone",
    "contact__email",
    "source__name",
    "product__name",
    "product_text",
    "fit",
    "priority",
    "first_contact_at",
    "created_at",
    "next_step",
    "next_step_at",
    "returned_at",  # the "back from nurture" mark
)
TIMER_FIELDS = ("lead_id", "kind", "state", "due_at", "met_at", "budget_seconds", "calendar")


def queue_queryset(user, base=None):
    """Open leads of `user`, annotated for the queue (ordering happens in `ordered`)."""
    leads = base if base is not None else Lead.objects.all()
    live = SlaTimer.objects.filter(LIVE, lead=OuterRef("pk")).order_by("due_at")
    return (
        leads.open()
        .filter(owner=user)
        .select_related("contact", "source", "product")
        .only(*ROW_FIELDS)
        .annotate(
            next_due=Subquery(live.values("due_at")[:1]),
            next_due_null=Case(When(next_due__isnull=True, then=Value(1)), default=Value(0)),
            # Overdue steps first, then leads without one (each needs one), then the planned.
            next_step_null=Case(
                When(next_step_at__lt=timezone.now(), then=Value(0)),
                When(next_step_at__isnull=True, then=Value(1)),
                default=Value(2),
            ),
            priority_rank=Case(
                *[When(priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()],
                default=Value(9),
                output_field=IntegerField(),
            ),
            attempt_count=_count(ContactAttempt),
            repeat_count=_count(InboundRequest, is_repeat=True),
            last_request_at=Subquery(
                InboundRequest.objects.filter(lead=OuterRef("pk"))
                .order_by("-received_at")
                .values("received_at")[:1]
            ),
            assigned_at=Subquery(
                Assignment.objects.filter(lead=OuterRef("pk"), to_owner=user)
                .order_by("-created_at")
                .values("created_at")[:1]
            ),
        )
        .prefetch_related(
            Prefetch(
                "timers",
                queryset=SlaTimer.objects.filter(LIVE | Q(kind=TimerKind.FIRST_CONTACT))
                .select_related("calendar")
                .only(*TIMER_FIELDS),
                to_attr="queue_timers",
            )
        )
    )


def ordered(queryset, order: str):
    return queryset.order_by(*ORDERS.get(order, ORDERS["urgency"]))


@dataclass
class Row:
    lead: Lead
    badge: object
    fresh: bool
    next_step: str

    @property
    def url(self) -> str:
        # Built by hand: reverse() for every row costs more than the row.
        return f"{LEADS_URL}{self.lead.pk}/"


def rows(leads, now: dt.datetime, since: dt.datetime | None) -> list[Row]:
    from django.utils.translation import gettext as _

    result = []
    for lead in leads:
        badge = badge_for(lead.queue_timers, now)
        if lead.next_step_at is not None:
            next_step = lead.next_step_label()
            if lead.next_step_at < now:
                next_step = f"{next_step} · {_('overdue')}"
        elif lead.first_contact_at is None:
            next_step = _("call now") if lead.attempt_count == 0 else _("try again")
        else:
            next_step = ""  # the row says "no next step" and asks for one
        fresh = bool(
            since
            and (
                (lead.assigned_at and lead.assigned_at > since)
                or (lead.repeat_count and lead.last_request_at and lead.last_request_at > since)
            )
        )
        result.append(Row(lead, badge, fresh, next_step))
    return result


def work_summary(user, now: dt.datetime) -> dict:
    """Count work, not records: calls due now, callbacks today, breaches soon."""
    timers = SlaTimer.objects.filter(LIVE, lead__owner=user, lead__stage_id__in=Stage.ids_of(StageKind.OPEN))
    end_of_day = timezone.localtime(now).replace(hour=23, minute=59, second=59)
    meetings = Lead.objects.open().filter(
        owner=user, next_step=NextStep.MEETING, next_step_at__gte=now, next_step_at__lte=end_of_day
    )
    return {"meetings_today": meetings.count()} | timers.aggregate(
        first_calls=Count("id", filter=Q(kind=TimerKind.FIRST_CONTACT)),
        late=Count("id", filter=Q(due_at__lte=now)),
        callbacks_today=Count("id", filter=Q(kind=TimerKind.CALLBACK, due_at__lte=end_of_day)),
        due_30=Count("id", filter=Q(due_at__gt=now, due_at__lte=now + dt.timedelta(minutes=30))),
    )


def next_in_work_mode(user, after_id: int | None, now: dt.datetime) -> Lead | None:
    """The most urgent lead to open next, skipping the one just handled and
    those attempted in the last hour."""
    recent = ContactAttempt.objects.filter(made_by=user, made_at__gte=now - dt.timedelta(hours=1)).values(
        "lead_id"
    )
    candidates = ordered(queue_queryset(user), "urgency").exclude(pk__in=recent)
    if after_id:
        candidates = candidates.exclude(pk=after_id)
    return candidates.first()
