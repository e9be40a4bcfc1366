"""The home page's figures: what the signed-in person's leads look like now."""

from django.db.models import Count, Q

from leads.choices import Qualification, StageKind
from leads.models import Lead, Stage


def home_summary(user) -> dict:
    leads = Lead.objects.visible_to(user)
    stages = list(Stage.objects.all())
    kind_of = {stage.pk: stage.kind for stage in stages}
    # One grouped query: leads per stage (and unassigned open ones); the kinds
    # are summed here from the tiny stage table, so the database never joins.
    per_stage = {}
    unassigned = 0
    for stage_id, owned, n in (
        leads.values_list("stage_id", Q(owner__isnull=True)).annotate(n=Count("id")).order_by()
    ):
        per_stage[stage_id] = per_stage.get(stage_id, 0) + n
        if owned and kind_of.get(stage_id) == StageKind.OPEN:
            unassigned += n
    totals = {kind.value: 0 for kind in StageKind}
    for stage_id, n in per_stage.items():
        totals[kind_of[stage_id]] += n
    totals["total"] = sum(per_stage.values())
    totals["unassigned"] = unassigned
    totals["sql"] = leads.filter(qualification=Qualification.SQL).count()
    by_stage = [(s, per_stage.get(s.pk, 0)) for s in stages if s.kind == StageKind.OPEN and s.is_active]
    recent = list(leads.with_related().order_by("-created_at", "-id")[:10])
    return {"totals": totals, "open_by_stage": by_stage, "recent_leads": recent}
