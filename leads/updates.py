"""What a signed-in person's screen shows, summed up as one short version
string, so every open page can ask "anything new?" every couple of seconds for
almost nothing (issue: a new lead on the rep's screen within 3 s).

Why a short poll and not a push: revops is served by a WSGI server (gunicorn,
sync workers), where a held connection per open page (server-sent events, long
polling) would take a worker each; a poll answered 304 costs one short request
of two indexed aggregates, which a few hundred signed-in people at one every
2 s (≈150 requests/s at the very most, fewer with hidden tabs polling slower)
cost a fraction of one core (bench/speed_to_lead.py measures it).

The version changes when:
- a notification arrives or is read (new lead, assignment, repeat request, SLA
  reminder/breach/escalation): the newest unread id and the unread count;
- for a rep, anything about their open leads: a lead assigned or taken away
  (the count), a lead changed (the latest `updated_at`);
- for a head of sales, what their board shows (leads/board.py): the team's
  open leads (a new lead waiting for an owner, an assignment or reassignment,
  a lead closed or changed: the count and the latest `updated_at`) and the
  team's newest breach (read from the breach_team_idx index, one row).
"""

from django.db.models import Count, Max

from leads.models import Lead
from revops.roles import Role
from sla.models import Breach, Notification


def version_for(user) -> str:
    unread = Notification.objects.unread_for(user).aggregate(newest=Max("id"), count=Count("id"))
    parts = [unread["newest"] or 0, unread["count"]]
    if user.role == Role.REP:
        # The queue's leads (leads.queue.queue_queryset), without its annotations.
        mine = Lead.objects.open().filter(owner=user).aggregate(count=Count("id"), changed=Max("updated_at"))
        changed = mine["changed"]
        parts += [mine["count"], int(changed.timestamp() * 1000) if changed else 0]
    elif user.role == Role.SALES_HEAD and user.team_id is not None:
        team = (
            Lead.objects.open()
            .filter(team_id=user.team_id)
            .aggregate(count=Count("id"), changed=Max("updated_at"))
        )
        changed = team["changed"]
        newest_breach = (
            Breach.objects.filter(team_id=user.team_id)
            .order_by("-created_at")
            .values_list("pk", flat=True)
            .first()
        )
        parts += [team["count"], int(changed.timestamp() * 1000) if changed else 0, newest_breach or 0]
    return "-".join(str(p) for p in parts)


def newest_unread(user) -> Notification | None:
    return Notification.objects.unread_for(user).order_by("-id").first()
