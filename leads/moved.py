"""Where did my lead go? For a person who held a lead or was notified about it
and may no longer see it (reassigned, or moved to another team)."""

from leads.models import Assignment, Lead
from revops.inputs import parse_id
from sla.models import Notification


def moved_away(user, lead_id: int) -> Lead | None:
    """The lead, with its current owner, if `user` once held it or was notified
    about it; None for anyone else, who learns nothing (the page stays a 404)."""
    if parse_id(str(lead_id)) is None:  # beyond the id column: nobody held it
        return None
    knew = (
        Assignment.objects.filter(lead_id=lead_id, to_owner=user).exists()
        or Notification.objects.filter(lead_id=lead_id, recipient=user).exists()
    )
    if not knew:
        return None
    return Lead.objects.select_related("owner", "team", "stage").filter(pk=lead_id).first()
