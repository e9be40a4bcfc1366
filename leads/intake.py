"""Taking a lead in: one function for every channel (API, site form, import,
manual entry), so de-duplication, consent, distribution and the SLA clock work
the same whichever way a lead arrives.

Race safety: contacts are unique by phone and by email in the database. Two
simultaneous requests from a new person both try to insert the contact; one
waits on the unique index, fails, and `take_lead` retries, now finding the
contact (and its fresh open lead, so the second becomes a repeat request).
The contact row is locked while we look for its open lead, so two requests
from a known person cannot both open a new lead.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from leads.assignment import (
    Decision,
    assign_automatically,
    assign_on_entry,
    decide,
    picks_in_turn,
    route,
    write_assignment,
)
from leads.choices import AssignmentKind, EntryChannel, StageCode
from leads.models import (
    Assignment,
    Campaign,
    Consent,
    Contact,
    IdempotencyRecord,
    InboundRequest,
    Lead,
    Product,
    Source,
    Stage,
    StageChange,
)
from revops import bulk
from sla.clock import start_first_contact_timer
from sla.models import NotificationKind, SlaTimer
from sla.notify import notify

logger = logging.getLogger(__name__)

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


@dataclass
class Submission:
    """A validated inbound request (see leads.serializers.IntakeSerializer)."""

    source: Source
    channel: str
    phone: str = ""
    email: str = ""
    name: str = ""
    company: str = ""
    product: str = ""
    comment: str = ""
    landing_page: str = ""
    utm: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    consent_text: str = ""
    client_ip: str | None = None
    received_at: dt.datetime | None = None
    # Manual entry: the person who typed it in, and the owner they chose
    # (None: the distribution rules decide).
    entered_by: object = None
    owner: object = None


@dataclass
class Outcome:
    lead_id: int
    request_id: int
    repeat: bool
    replayed: bool = False  # the answer was stored for this Idempotency-Key before
    # A new lead that the distribution rules should give to someone, and why
    # its team was chosen (done after the lead is committed: see take_lead).
    to_assign: Lead | None = None
    routed: dict | None = None
    timer: object = None  # the first-contact timer just started (saves reading it back)

    @property
    def status_code(self) -> int:
        return 200 if self.repeat else 201

    def body(self) -> dict:
        return {"id": self.lead_id, "request_id": self.request_id, "repeat": self.repeat}


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request body."""


def take_lead(
    sub: Submission,
    *,
    idempotency_key: str = "",
    request_hash: str = "",
    start_clock: bool = True,
    assign: bool = True,
    notify_owner: bool = True,
    attempts: int = 3,
) -> Outcome:
    """Record `sub` as a new lead or as a repeat request on the contact's open lead.
    Commits before returning; raises only if the database keeps refusing.

    With an `idempotency_key`, the first answer is stored in the same
    transaction and replayed for retries; two racing retries collide on the
    record's unique key (a new person's, on the contact's first) and the
    loser, rolled back and retrying, finds the winner's answer."""
    planning = assign and sub.owner is None
    for attempt in range(attempts):
        plan, ids = None, {}
        try:
            if idempotency_key:
                # A retry answered before needs no ticket or lock: look first.
                stored = _stored_answer(sub, idempotency_key, request_hash)
                if stored is not None:
                    return stored
            # A person we have never seen gets their new lead, its owner and the
            # owner's notification in one transaction: the rep is chosen first
            # (reads from the reference cache, at most one short UPDATE of the
            # team's ticket), before any row is locked. If the same person
            # arrives twice at once, the second INSERT of the contact fails and
            # the retry takes the known-contact path (its ticket is lost: the
            # rotation skips one place).
            if planning:
                rows = NEW_LEAD_ROWS + ((IdempotencyRecord,) if idempotency_key else ())
                known, ids = _known(sub, reserve=rows)
                if known:
                    ids = {}  # gaps in the sequences, nothing more
                else:
                    plan = _plan_new_lead(sub)
            # A new person's rows (their ids reserved by _known) go to the
            # database in one round trip, before the COMMIT.
            with transaction.atomic(), bulk.together(ids):
                outcome = _take(sub, plan, start_clock=start_clock, assign=assign, notify_owner=notify_owner)
                if idempotency_key:
                    record = IdempotencyRecord(
                        source=sub.source,
                        key=idempotency_key,
                        request_hash=request_hash,
                        status_code=outcome.status_code,
                        response=outcome.body(),
                    )
                    # A racing retry fails on the unique key (at the block's end,
                    # when the rows are sent) and, retrying, finds this answer.
                    bulk.insert([record])
            _assign_after_commit(outcome)
            return outcome
        except IntegrityError:
            # Another request created the same contact (or used the same
            # Idempotency-Key) a moment ago; the next try sees its work (and
            # takes the old path for anything else that refused the plan).
            if attempt == attempts - 1:
                raise
            planning = False
        except DatabaseError:
            if plan is None or attempt == attempts - 1:
                raise
            # Writing the planned owner failed (a lock timeout on the rep's row,
            # say): the lead must not be lost for it. Take it again the old way,
            # the owner chosen after the commit.
            logger.exception("a new lead from %s could not be written with its owner; retrying", sub.source)
            planning = False
    raise AssertionError("unreachable")


def _stored_answer(sub: Submission, key: str, request_hash: str) -> Outcome | None:
    record = IdempotencyRecord.objects.filter(source=sub.source, key=key).first()
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise IdempotencyConflict
    body = record.response
    return Outcome(body["id"], body["request_id"], body["repeat"], replayed=True)


@dataclass
class Plan:
    """A new person's lead, built before the transaction, with its distribution
    decided (see take_lead)."""

    lead: Lead
    decision: Decision


# The rows of a new person's lead, one each (see _take and revops.bulk.together);
# the assignment only when it was planned.
NEW_LEAD_ROWS = (Contact, Lead, StageChange, InboundRequest, Consent, SlaTimer, Assignment)


def _plan_new_lead(sub: Submission) -> Plan | None:
    now = sub.received_at or timezone.now()
    lead = _new_lead(sub, contact=None, known=False, now=now)
    try:
        if picks_in_turn(route(lead)[0]):
            return None  # a counted pick is made in its own transaction (leads.assignment.decide)
        decision = decide(lead, now)
    except Exception:
        # Distribution must never cost a lead: without a plan it is written
        # first and given out after its commit (or waits in the team's queue).
        logger.exception("could not plan the distribution of a new lead from %s", sub.source)
        return None
    lead.team, lead.owner = decision.team, decision.owner
    return Plan(lead, decision)


def _known(sub: Submission, *, reserve=()) -> tuple[bool, dict]:
    """Whether a contact with this phone or email exists (no lock: a hint that
    the unique indexes make safe) and, in the same round trip, ids for the
    rows of a new lead (`reserve`, see revops.bulk.together; a known person
    leaves them as gaps). Plain SQL: it runs for every intake, and building
    the OR query through the ORM costs more than running it."""
    table = connection.ops.quote_name(Contact._meta.db_table)
    nextvals, params = bulk.reserving(reserve)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {table} WHERE (phone = %s AND phone <> '') OR (email = %s AND email <> ''))"
            + (f", {nextvals}" if nextvals else ""),
            [sub.phone, sub.email, *params],
        )
        row = cursor.fetchone()
    return bool(row[0]), bulk.reserved(reserve, row[1:]) if nextvals else {}


def _find_contact(sub: Submission) -> Contact | None:
    condition = Q()
    if sub.phone:
        condition |= Q(phone=sub.phone)
    if sub.email:
        condition |= Q(email=sub.email)
    matches = list(Contact.objects.select_for_update().filter(condition))
    # A phone match wins over an email match: phones identify people better.
    by_phone = next((c for c in matches if sub.phone and c.phone == sub.phone), None)
    return by_phone or (matches[0] if matches else None)


def _complete_contact(contact: Contact, sub: Submission):
    """Fill what the contact lacks from the new request (never overwrite)."""
    changed = []
    if sub.phone and not contact.phone and not Contact.objects.filter(phone=sub.phone).exists():
        contact.phone = sub.phone
        changed.append("phone")
    if sub.email and not contact.email and not Contact.objects.filter(email=sub.email).exists():
        contact.email = sub.email
        changed.append("email")
    for attr in ("name", "company"):
        if getattr(sub, attr) and not getattr(contact, attr):
            setattr(contact, attr, getattr(sub, attr))
            changed.append(attr)
    if changed:
        contact.save(update_fields=changed)


def _campaign_for(sub: Submission) -> Campaign | None:
    return Campaign.for_utm(sub.source.pk, sub.utm.get("utm_campaign", ""), sub.utm.get("utm_source", ""))


def _take(
    sub: Submission, plan: Plan | None, *, start_clock: bool, assign: bool, notify_owner: bool
) -> Outcome:
    now = plan.lead.created_at if plan else (sub.received_at or timezone.now())
    contact = None if plan else _find_contact(sub)
    known = contact is not None
    if known:
        _complete_contact(contact, sub)
    else:
        contact = Contact(
            phone=sub.phone, email=sub.email, name=sub.name, company=sub.company, created_at=now
        )
        # A person arriving twice at once fails on the unique phone or email
        # (when the rows are sent, see take_lead) and take_lead retries.
        bulk.insert([contact])
    # The contact's row lock (taken in _find_contact) serialises requests of
    # this person; the open lead is read after it. A new contact has no leads.
    open_lead = (
        contact.leads.open().select_related("owner", "team").order_by("-created_at").first()
        if known
        else None
    )
    request = InboundRequest(
        contact=contact,
        source=sub.source,
        campaign=plan.lead.campaign if plan else _campaign_for(sub),
        channel=sub.channel,
        comment=sub.comment,
        product_text=sub.product,
        utm={k: v for k, v in sub.utm.items() if v},
        landing_page=sub.landing_page,
        extra=sub.extra,
        received_at=now,
    )
    if open_lead is not None:
        request.lead, request.is_repeat = open_lead, True
        request.save()
        _record_consent(contact, request, sub, now)
        recipients = [open_lead.owner] if open_lead.owner else _team_heads(open_lead)
        notify(
            recipients if notify_owner else [],
            NotificationKind.REPEAT_REQUEST,
            lead=open_lead,
            event=f"request:{request.pk}",
            params={"lead": open_lead.pk, "source": sub.source.name},
        )
        return Outcome(open_lead.pk, request.pk, repeat=True)

    lead = plan.lead if plan else _new_lead(sub, contact, known, now)
    lead.contact = contact
    routed = None
    if plan is None and sub.owner is None and assign:
        # Routing reads only the lead's own fields: the team goes in with the row.
        lead.team, routed = route(lead)
    bulk.insert([lead])
    bulk.insert([StageChange(lead=lead, from_stage=None, to_stage=lead.stage, changed_at=now)])
    request.lead = lead
    bulk.insert([request])
    _record_consent(contact, request, sub, now)
    if sub.owner is not None:
        assign_on_entry(lead, sub.owner, sub.entered_by, at=now)
    timer = None
    if start_clock:
        # The clock runs from arrival on the lead's team's calendar, whoever
        # gets the lead and whenever.
        timer = start_first_contact_timer(lead, now)
    if plan is not None:
        write_assignment(lead, None, AssignmentKind.AUTO, None, plan.decision.reasons, now, timer)
    outcome = Outcome(lead.pk, request.pk, repeat=False, timer=timer)
    if plan is None and assign and sub.owner is None:
        outcome.to_assign, outcome.routed = lead, routed
    return outcome


def _new_lead(sub: Submission, contact, known: bool, now) -> Lead:
    """The unsaved lead of `sub` (no team or owner yet)."""
    stage = Stage.by_code(StageCode.LEAD)
    product = Product.active_by_code(sub.product) if sub.product else None
    return Lead(
        contact=contact,
        source=sub.source,
        campaign=_campaign_for(sub),
        channel=sub.channel,
        product=product,
        product_text="" if product else sub.product,
        comment=sub.comment,
        landing_page=sub.landing_page,
        stage=stage,
        furthest_stage=stage,
        stage_changed_at=now,
        is_returning=known and contact.leads.exists(),
        created_at=now,
        **{name: sub.utm.get(name, "") for name in UTM_FIELDS},
    )


def _assign_after_commit(outcome: Outcome) -> None:
    """Choose the rep in a short transaction of its own, after the lead is
    safely committed: intakes never queue behind each other's distribution,
    and if this fails the lead waits in the team queue for the periodic
    assign_waiting instead of being lost."""
    if outcome.to_assign is None:
        return
    try:
        assign_automatically(
            outcome.to_assign, at=outcome.to_assign.created_at, routed=outcome.routed, timer=outcome.timer
        )
    except Exception:
        logger.exception("lead %s could not be assigned now; it waits in the queue", outcome.lead_id)


def _record_consent(contact, request, sub: Submission, now):
    bulk.insert(
        [
            Consent(
                contact=contact,
                request=request,
                text_version=sub.consent_text,
                given_at=now,
                ip=sub.client_ip or None,
            )
        ]
    )


def _team_heads(lead: Lead) -> list:
    return [lead.team.head] if lead.team_id and lead.team.head_id else []


def channel_of(value: str) -> str:
    return value if value in EntryChannel.values else EntryChannel.API
