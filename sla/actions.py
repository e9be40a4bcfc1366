"""What heads do with breaches: acknowledge (seen, on it) and resolve (dealt with)."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from revops import display
from revops.errors import Conflict
from sla.models import Breach


def _with_comment(breach: Breach, actor, comment: str) -> str:
    comment = (comment or "").strip()
    if not comment:
        return breach.comment
    stamp = f"{display.when(timezone.now())} {actor}: {comment}"
    return f"{breach.comment}\n{stamp}".strip()


@transaction.atomic
def acknowledge(breach: Breach, actor, comment: str = "") -> Breach:
    breach = Breach.objects.select_for_update().get(pk=breach.pk)
    if breach.acknowledged_at is not None:
        raise Conflict(_("The breach is already acknowledged."))
    breach.acknowledged_at, breach.acknowledged_by = timezone.now(), actor
    breach.comment = _with_comment(breach, actor, comment)
    breach.save(update_fields=["acknowledged_at", "acknowledged_by", "comment"])
    return breach


@transaction.atomic
def resolve(breach: Breach, actor, comment: str = "") -> Breach:
    breach = Breach.objects.select_for_update().get(pk=breach.pk)
    if breach.resolved_at is not None:
        raise Conflict(_("The breach is already resolved."))
    now = timezone.now()
    breach.resolved_at, breach.resolved_by = now, actor
    if breach.acknowledged_at is None:
        breach.acknowledged_at, breach.acknowledged_by = now, actor
    breach.comment = _with_comment(breach, actor, comment)
    breach.save(update_fields=["resolved_at", "resolved_by", "acknowledged_at", "acknowledged_by", "comment"])
    return breach


@transaction.atomic
def acknowledge_many(breaches, actor, comment: str = "") -> tuple[list[Breach], list[Breach]]:
    """Acknowledge several breaches at once (the head's board). Returns the
    breaches acknowledged now and those someone had acknowledged already;
    the rows are locked in id order, so two heads never deadlock."""
    locked = list(Breach.objects.select_for_update().filter(pk__in=[b.pk for b in breaches]).order_by("pk"))
    now, done, already = timezone.now(), [], []
    for breach in locked:
        if breach.acknowledged_at is not None:
            already.append(breach)
            continue
        breach.acknowledged_at, breach.acknowledged_by = now, actor
        breach.comment = _with_comment(breach, actor, comment)
        breach.save(update_fields=["acknowledged_at", "acknowledged_by", "comment"])
        done.append(breach)
    return done, already
