"""The home page's figures: what the signed-in person's leads look like now."""

from django.db.models import Count, Q

from leads.choices import Qualification, StageKind
from leads.models import Lead, Stage


def home_summary(user) -> dict:
    leads = Lead.objects.visible_to(user)
    totals = leads.aggregate(
        total=Count("id"),
        open=Count("id", filter=Q(stage__kind=StageKind.OPEN)),
        won=Count("id", filter=Q(stage__kind=StageKind.WON)),
        lost=Count("id", filter=Q(stage__kind=StageKind.LOST)),
        nurture=Count("id", filter=Q(stage__kind=StageKind.NURTURE)),
        unassigned=Count("id", filter=Q(stage__kind=StageKind.OPEN, owner__isnull=True)),
        sql=Count("id", filter=Q(qualification=Qualification.SQL)),
    )
    # Open leads per stage in funnel order: one grouped query plus the stage list.
    counts = dict(
        leads.filter(stage__kind=StageKind.OPEN).values_list("stage_id").annotate(n=Count("id")).order_by()
    )
    open_stages = Stage.objects.filter(kind=StageKind.OPEN, is_active=True)
    by_stage = [(stage, counts.get(stage.pk, 0)) for stage in open_stages]
    recent = list(leads.with_related().order_by("-created_at", "-id")[:10])
    return {"totals": totals, "open_by_stage": by_stage, "recent_leads": recent}
