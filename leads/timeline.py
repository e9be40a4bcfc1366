"""Everything known about one lead, gathered in a fixed number of queries."""

from leads.models import Lead


def lead_context(lead: Lead) -> dict:
    contact = lead.contact
    requests = list(lead.requests.select_related("source", "campaign").order_by("-received_at")[:50])
    attempts = list(lead.attempts.select_related("made_by").order_by("-made_at")[:100])
    stage_changes = list(
        lead.stage_changes.select_related("from_stage", "to_stage", "changed_by").order_by("-changed_at")[
            :100
        ]
    )
    deals = list(contact.deals.select_related("product").order_by("-created_at")[:20])
    other_leads = list(
        contact.leads.exclude(pk=lead.pk).select_related("stage", "source").order_by("-created_at")[:20]
    )
    timeline = sorted(
        [("request", r.received_at, r) for r in requests]
        + [("attempt", a.made_at, a) for a in attempts]
        + [("stage", s.changed_at, s) for s in stage_changes],
        key=lambda item: item[1],
        reverse=True,
    )
    return {
        "lead": lead,
        "contact": contact,
        "timeline": timeline,
        "deals": deals,
        "other_leads": other_leads,
        "attempt_count": len(attempts),
    }
