"""Merging two leads of the same request by hand (heads only): everything of
the duplicate moves to the kept lead; the duplicate is closed as "duplicate"
with a pointer, so nothing is lost and reports do not count it twice."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.actions import MERGED_NOTE, Conflict, lock_lead, requalify, set_stage
from leads.choices import StageCode, StageKind
from leads.models import (
    Assignment,
    ContactAttempt,
    CriterionAnswer,
    Deal,
    InboundRequest,
    Lead,
    LeadEvent,
    RejectionReason,
    Stage,
)
from sla.clock import cancel_timers


@transaction.atomic
def merge(keep: Lead, duplicate: Lead, actor) -> Lead:
    now = timezone.now()
    # Lock both in id order so two opposite merges cannot deadlock.
    first, second = sorted([keep, duplicate], key=lambda lead: lead.pk)
    first, second = lock_lead(first), lock_lead(second)
    keep, duplicate = (first, second) if first.pk == keep.pk else (second, first)
    if duplicate.stage.kind != StageKind.OPEN:
        raise Conflict(_("Only an open lead can be merged into another."))
    if keep.stage.kind != StageKind.OPEN:
        raise Conflict(_("Merge into an open lead."))
    InboundRequest.objects.filter(lead=duplicate).update(lead=keep, is_repeat=True)
    ContactAttempt.objects.filter(lead=duplicate).update(lead=keep)
    Deal.objects.filter(lead=duplicate).update(lead=keep)
    Assignment.objects.filter(lead=duplicate).update(lead=keep)
    answered = set(keep.answers.values_list("criterion_id", flat=True))
    CriterionAnswer.objects.filter(lead=duplicate).exclude(criterion_id__in=answered).update(lead=keep)
    # The earliest first contact of the two is the first contact of the request.
    if duplicate.first_contact_at and (
        keep.first_contact_at is None or duplicate.first_contact_at < keep.first_contact_at
    ):
        keep.first_contact_at = max(duplicate.first_contact_at, keep.created_at)
        keep.save(update_fields=["first_contact_at", "updated_at"])
    # The request got as far as the further of the two (DESIGN.md: a merge gives the
    # kept lead the later furthest stage), and the answers it gained may qualify it.
    if (duplicate.furthest_stage.position or 0) > (keep.furthest_stage.position or 0):
        keep.furthest_stage = duplicate.furthest_stage
        keep.save(update_fields=["furthest_stage", "updated_at"])
    requalify(keep, actor, now)
    cancel_timers(duplicate, now)
    duplicate.rejection_reason = RejectionReason.objects.get(code="duplicate")
    duplicate.rejection_comment = _("merged into lead #%(id)s") % {"id": keep.pk}
    set_stage(duplicate, Stage.objects.get(code=StageCode.LOST), actor, now, note=f"{MERGED_NOTE}{keep.pk}")
    LeadEvent.objects.create(
        lead=keep, kind=LeadEvent.Kind.MERGED, actor=actor, created_at=now, data={"merged": duplicate.pk}
    )
    LeadEvent.objects.create(
        lead=duplicate, kind=LeadEvent.Kind.MERGED, actor=actor, created_at=now, data={"into": keep.pk}
    )
    return keep
