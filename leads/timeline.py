"""Everything known about one lead for its card, gathered in a fixed number of
queries: context, the actions it allows, and one timeline of all events."""

import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from leads.actions import (
    criteria_for,
    failed_calls_so_far,
    missing_for_next_level,
    nurture_limit,
    silence_rule_applies,
)
from leads.assignment import describe, logins_in, names_of
from leads.choices import AttemptChannel, AttemptOutcome, Priority, Qualification, StageKind
from leads.disputes import card_context as dispute_card
from leads.disputes import describe_decision
from leads.models import Feedback, FeedbackTopic, Lead, LeadEvent, NurtureReason, RejectionReason, Stage
from leads.returns import can_return, describe_return
from leads.tracks import advertising_status
from leads.tracks import describe_event as describe_track_event
from revops.models import User
from revops.roles import Role
from sla.display import badge_for, human_duration
from sla.models import Breach, SlaTimer

# (code, label) of the timeline's filter; labels are translated in the template.
TIMELINE_TYPES = ["request", "assignment", "attempt", "stage", "note", "sla"]

# The card's feedback topics (issue #15: six, stored in leads.models.Feedback).
FEEDBACK_TOPICS = FeedbackTopic.choices


def lead_context(lead: Lead, user, posted=None) -> dict:
    """What the card shows; `posted` (a form that failed to save) overrides the
    checklist's stored answers so the rep's choices come back."""
    now = timezone.now()
    contact = lead.contact
    requests = list(lead.requests.select_related("source", "campaign").order_by("-received_at")[:100])
    attempts = list(lead.attempts.select_related("made_by").order_by("-made_at")[:200])
    stage_changes = list(
        lead.stage_changes.select_related("from_stage", "to_stage", "changed_by").order_by("-changed_at")[
            :200
        ]
    )
    assignments = list(
        lead.assignments.select_related("to_owner", "from_owner", "assigned_by").order_by("-created_at")[:100]
    )
    events = list(lead.events.select_related("actor").order_by("-created_at")[:200])
    # Feedback rows with marketing's reply, shown under their FEEDBACK event (one query).
    feedback = {f.pk: f for f in Feedback.objects.filter(lead=lead).select_related("taken_by")}
    timers = list(
        SlaTimer.objects.filter(lead=lead).select_related("calendar", "policy").order_by("-started_at")[:50]
    )
    breaches = list(Breach.objects.filter(lead=lead).order_by("-created_at")[:50])
    deals = list(contact.deals.select_related("product").order_by("-created_at")[:20])
    other_leads = list(
        contact.leads.exclude(pk=lead.pk).select_related("stage", "source").order_by("-created_at")[:20]
    )
    criteria = list(criteria_for(lead).order_by("level", "position", "id"))
    answers = {a.criterion_id: a.answer for a in lead.answers.all()}
    shown = dict(answers)  # what the form showed, so a save sends only what the rep changed
    if posted:
        shown = {c.pk: posted.get(f"shown_criterion_{c.pk}", answers.get(c.pk, "")) for c in criteria}
        answers |= {c.pk: posted[f"criterion_{c.pk}"] for c in criteria if posted.get(f"criterion_{c.pk}")}
    stages = list(Stage.objects.filter(is_active=True))
    can_change = Lead.objects.changeable_by(user).filter(pk=lead.pk).exists()

    timeline = (
        [("request", r.received_at, r) for r in requests]
        + [("assignment", a.created_at, a) for a in assignments]
        + [("attempt", a.made_at, a) for a in attempts]
        + [("stage", s.changed_at, s) for s in stage_changes]
        + [("note", e.created_at, e) for e in events]
        + [("sla", b.created_at, b) for b in breaches]
    )
    timeline.sort(key=lambda item: item[1], reverse=True)
    reason_names = {reason.code: reason.name for reason in RejectionReason.objects.all()}
    # Reasons store logins; the card names people (one query for all of them).
    names = names_of(set().union(*(logins_in(a.reasons) for a in assignments)))
    for kind, _at, item in timeline:
        if kind == "stage":
            # A history row keeps a rejection reason's code or a merge/import mark;
            # people read words (readable_note).
            if item.undoes_id:
                item.shown_note = _("undone")
            else:
                item.shown_note = readable_note(item.note, reason_names)
        elif kind == "note" and item.kind == LeadEvent.Kind.PLANNED:
            when = parse_datetime(item.data.get("at") or "")
            item.data = {"text": Lead.describe_next_step(item.data.get("step"), when) if when else ""}
        elif kind == "assignment":
            item.why = describe(item.reasons, names)
            item.inherited = human_duration_or_none(item.sla_left_seconds)
        elif kind == "note" and item.kind == LeadEvent.Kind.RETURNED:
            item.data = {"text": describe_return(item.data)}
        elif kind == "note" and item.kind == LeadEvent.Kind.DISPUTE_DECIDED:
            stage_names = {stage.code: stage.name for stage in stages}
            item.data = {"text": describe_decision(item.data, stage_names, reason_names)}
        elif kind == "note" and item.kind in (LeadEvent.Kind.FEEDBACK, LeadEvent.Kind.FEEDBACK_REPLY):
            item.feedback = feedback.get(item.data.get("feedback"))
            item.topic_label = dict(FEEDBACK_TOPICS).get(item.data.get("topic"), "")
        elif kind == "note" and item.kind in TRACK_KINDS:
            # Nurture tracks (leads.tracks): the line in words; an email a track
            # did not send says so in its title too.
            if item.kind == LeadEvent.Kind.TRACK_EMAIL and item.data.get("skipped"):
                item.get_kind_display = _skipped_title
            item.data = {"text": describe_track_event(item)}
        elif kind == "note" and item.kind == LeadEvent.Kind.QUALIFIED:
            labels = dict(Qualification.choices)
            item.qualification_from = labels.get(item.data.get("from"), "")
            item.qualification_to = labels.get(item.data.get("to"), "")

    counts = lead.stage.kind == StageKind.OPEN and silence_rule_applies(lead)
    failed = failed_calls_so_far(lead) if counts else 0
    limit = nurture_limit(lead)  # the same policy leads.actions.log_attempt applies
    # A failed call that would send a high- or urgent-priority lead to nurture asks first.
    confirm_nurture = counts and failed + 1 >= limit and lead.priority in (Priority.HIGH, Priority.URGENT)
    return {
        "lead": lead,
        "contact": contact,
        "timeline": timeline,
        "timeline_types": TIMELINE_TYPES,
        "deals": deals,
        "other_leads": other_leads,
        "requests": requests,
        "badge": badge_for(timers, now),
        "criteria": [(c, answers.get(c.pk, ""), shown.get(c.pk, "")) for c in criteria],
        "missing": missing_for_next_level(lead, criteria) if lead.stage.kind == StageKind.OPEN else [],
        "stages": stages,
        "path": [s for s in stages if s.position is not None],
        "reasons": list(RejectionReason.objects.filter(is_active=True)),
        "nurture_reasons": list(NurtureReason.objects.filter(is_active=True)),
        "advertising": advertising_status(contact),
        "can_change": can_change and lead.stage.kind == StageKind.OPEN,
        "can_return": lead.stage.kind == StageKind.NURTURE and can_return(user),
        "can_assign": can_change and (user.role in (Role.SALES_HEAD, Role.ADMIN) or user.is_superuser),
        "assignees": _assignees(user) if can_change else [],
        "failed_calls": failed,
        "limit": limit,
        "outcomes": _outcome_buttons(failed, limit, counts),
        "confirm_nurture": confirm_nurture,
        "channels": AttemptChannel.choices,
        "next_step": lead.next_step_label(),
        "next_step_overdue": bool(lead.next_step_at and lead.next_step_at < now),
        "feedback_topics": FEEDBACK_TOPICS,
        # Notes and feedback are welcome on a closed lead too ("wrong segment" is
        # often learnt by rejecting it): whoever may work the lead writes them.
        "can_write_note": can_change,
        "repeat_count": sum(1 for r in requests if r.is_repeat),
        "note_kinds": LeadEvent.Kind,
        **dispute_card(lead, user, now),  # issue #15: disputed rejections
    }


TRACK_KINDS = frozenset(
    {
        LeadEvent.Kind.ENROLLED,
        LeadEvent.Kind.TRACK_EMAIL,
        LeadEvent.Kind.TRACK_TASK,
        LeadEvent.Kind.TRACK_ENDED,
        LeadEvent.Kind.UNSUBSCRIBED,
    }
)


def _skipped_title():
    return _("Track email not sent")


def readable_note(note: str, reason_names: dict[str, str]) -> str:
    """A stage change's note in words: actions write a rejection reason's code,
    a merge "merged:<id>", an import "import:<file>" (leads/actions.py, merge.py,
    importer.py); other notes are already text."""
    if note in reason_names:
        return reason_names[note]
    mark, _colon, rest = note.partition(":")
    if mark == "merged" and rest.isdigit():
        return _("merged into lead #%(id)s") % {"id": rest}
    if mark == "dispute" and rest.isdigit():
        return _("reopened: the rejection was overturned on dispute")
    if mark == "import" and rest:
        return _("imported from %(file)s") % {"file": rest}
    return note


def human_duration_or_none(seconds):
    if seconds is None:
        return None
    text = human_duration(dt.timedelta(seconds=seconds))
    return text if seconds >= 0 else "-" + text


def _outcome_buttons(failed: int, limit: int, counts: bool) -> list[dict]:
    """The outcome buttons with their consequence written on them: what the next
    failed call does under the attempts rule (leads.actions.log_attempt), and
    nothing it does not do — past the first stage a failed call only goes on record."""
    if not counts:
        consequence = _("logged, the lead stays")
    elif failed + 1 >= limit:
        consequence = _("%(n)s of %(limit)s → nurture") % {"n": limit, "limit": limit}
    else:
        consequence = _("%(n)s of %(limit)s") % {"n": failed + 1, "limit": limit}
    return [
        {
            "outcome": AttemptOutcome.REACHED,
            "label": _("Reached"),
            "hint": _("first contact made"),
            "key": "1",
        },
        {
            "outcome": AttemptOutcome.NO_ANSWER,
            "label": _("No answer"),
            "hint": consequence,
            "key": "2",
            "risky": True,
        },
        {"outcome": AttemptOutcome.BUSY, "label": _("Busy"), "hint": consequence, "key": "3", "risky": True},
        {
            "outcome": AttemptOutcome.VOICEMAIL,
            "label": _("Voicemail"),
            "hint": consequence,
            "key": "4",
            "risky": True,
        },
        {
            "outcome": AttemptOutcome.WRONG_NUMBER,
            "label": _("Wrong number"),
            "hint": _("does not count"),
            "key": "5",
        },
    ]


def _assignees(user):
    people = User.objects.filter(is_active=True, role__in=[Role.REP, Role.SALES_HEAD]).exclude(team=None)
    if user.role == Role.SALES_HEAD:
        people = people.filter(team_id=user.team_id)
    return list(people.order_by("first_name", "username"))
