"""The story the dispute tests share (not a test module).

A lead of team A arrives on Wednesday 2026-02-11 at 11:00 Moscow time (the
default calendar: Mon–Fri 09–13 and 14–18), the rep reaches the client at 11:05
(the lead is at qualification then), and at 11:30 rejects it as "not target". Marketing
disputes the rejection at 12:00 the same day. Team A's time to decide is the default 16 working hours:
Wed 12–13, 14–18 (5 h), Thu (8 h), Fri 09–12 (3 h) → Friday 2026-02-13 12:00;
the reminder at 75 % (12 h): Wed 5 h + Thu 09–13, 14–17 → Thursday 17:00.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from leads import actions
from leads.models import Lead
from sla.clock import start_first_contact_timer
from tests.factories import LeadFactory

MOSCOW = ZoneInfo("Europe/Moscow")


def msk(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MOSCOW)


ARRIVAL = msk(2026, 2, 11, 11, 0)
REJECTED = msk(2026, 2, 11, 11, 30)
DISPUTED = msk(2026, 2, 11, 12, 0)
REMIND_AT = msk(2026, 2, 12, 17, 0)
DECIDE_BY = msk(2026, 2, 13, 12, 0)


def rejected_lead(rep, *, reason="not_target", comment="", source=None, created_at=ARRIVAL):
    """The story's lead: reached, at qualification, rejected by `rep` at REJECTED."""
    extra = {"source": source} if source is not None else {}
    lead = LeadFactory(owner=rep, team=rep.team, created_at=created_at, **extra)
    start_first_contact_timer(lead, created_at)
    actions.log_attempt(lead, rep, channel="call", outcome="reached", at=created_at + dt.timedelta(minutes=5))
    lead.refresh_from_db()
    if lead.stage.code != "qualification":  # "reached" takes it there where the policy says so
        actions.move_stage(lead, rep, "qualification", at=created_at + dt.timedelta(minutes=10))
    actions.reject(lead, rep, reason, comment, at=created_at + dt.timedelta(minutes=30))
    return Lead.objects.get(pk=lead.pk)
