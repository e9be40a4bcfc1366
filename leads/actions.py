"""State changes of leads. Each function here is the one place that makes its
change and writes its history row, inside one transaction."""

from django.db import transaction

from leads.models import Lead, LeadEvent

# Fields of a lead (or its contact) that may be edited directly; everything else
# changes through its own action (assign, stage, reject, nurture…).
EDITABLE_LEAD_FIELDS = ("priority", "segment", "fit", "product", "comment")
EDITABLE_CONTACT_FIELDS = ("name", "company")


def _value_for_log(value):
    if hasattr(value, "pk"):
        return getattr(value, "code", None) or value.pk
    return value


@transaction.atomic
def update_lead(lead: Lead, actor, changes: dict) -> Lead:
    """Apply `changes` (already validated) and audit what really changed."""
    diff = {}
    lead_fields, contact_fields = [], []
    for field, value in changes.items():
        if field in EDITABLE_CONTACT_FIELDS:
            target, bucket = lead.contact, contact_fields
        elif field in EDITABLE_LEAD_FIELDS:
            target, bucket = lead, lead_fields
        else:
            raise ValueError(f"{field} is not directly editable")
        old = getattr(target, field)
        if old != value:
            diff[field] = [_value_for_log(old), _value_for_log(value)]
            setattr(target, field, value)
            bucket.append(field)
    if not diff:
        return lead
    if contact_fields:
        lead.contact.save(update_fields=contact_fields)
    lead.save(update_fields=[*lead_fields, "updated_at"])
    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.EDITED, actor=actor, data={"changes": diff})
    return lead
