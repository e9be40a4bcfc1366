"""Taking a lead in: one function for every channel (API, site form, import,
manual entry), so de-duplication, consent, distribution and the SLA clock work
the same whichever way a lead arrives.

One transaction per request, in plain ORM: find or create the contact; write
the request and its consent, and for a new lead the lead, its first stage
change and its first-contact timer; choose the owner; commit. Callers answer
after `take_lead` returns, so an answer always names a committed lead.

Race safety: contacts are unique by phone and by email in the database. Two
simultaneous requests from a new person both try to insert the contact; one
waits on the unique index, fails, and `take_lead` retries, now finding the
contact (and its fresh open lead, so the second becomes a repeat request).
The contact row is locked while we look for its open lead, so two requests
from a known person cannot both open a new lead. Idempotency records are
unique per (source, key) in the same way.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from leads.assignment import assign_new_lead, assign_on_entry, route
from leads.choices import EntryChannel, ReturnTrigger, StageCode, StageKind
from leads.models import (
    Campaign,
    Consent,
    Contact,
    IdempotencyRecord,
    InboundRequest,
    Lead,
    MarketingConsent,
    Product,
    Source,
    Stage,
    StageChange,
)
from leads.returns import return_from_nurture
from sla.clock import start_first_contact_timer
from sla.models import NotificationKind
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
    # The separate, optional consent to advertising (38-FZ art. 18) and its text's version.
    marketing_consent: bool = False
    marketing_consent_text: str = ""
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
    return_nurtured: bool = True,
    attempts: int = 3,
) -> Outcome:
    """Record `sub` as a new lead or as a repeat request on the contact's open
    lead (or on their lead in nurture, which it brings back), in one transaction. Commits before returning (inside a caller's
    transaction, the importer's, it is a savepoint of it); raises only if the
    database keeps refusing.

    The importer's options: `start_clock=False` (history: no SLA timer),
    `assign=False` (no distribution now: the lead gets no team either),
    `notify_owner=False` (nobody is told of an old repeat request). The demo's
    history passes `return_nurtured=False`: a lead in nurture stays there and the
    request opens a new lead.

    With an `idempotency_key`, the first answer is stored in the same
    transaction and replayed for retries; two racing retries collide on the
    record's unique key (a new person's, on the contact's first) and the
    loser, rolled back and retrying, finds the winner's answer."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                if idempotency_key:
                    stored = _stored_answer(sub, idempotency_key, request_hash)
                    if stored is not None:
                        return stored
                outcome = _take(
                    sub,
                    start_clock=start_clock,
                    assign=assign,
                    notify_owner=notify_owner,
                    return_nurtured=return_nurtured,
                )
                if idempotency_key:
                    IdempotencyRecord.objects.create(
                        source=sub.source,
                        key=idempotency_key,
                        request_hash=request_hash,
                        status_code=outcome.status_code,
                        response=outcome.body(),
                    )
            return outcome
        except IntegrityError:
            # Another request created the same contact (or used the same
            # Idempotency-Key) a moment ago: the next try sees its work.
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _stored_answer(sub: Submission, key: str, request_hash: str) -> Outcome | None:
    record = IdempotencyRecord.objects.filter(source=sub.source, key=key).first()
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise IdempotencyConflict
    body = record.response
    return Outcome(body["id"], body["request_id"], body["repeat"], replayed=True)


def _take(
    sub: Submission, *, start_clock: bool, assign: bool, notify_owner: bool, return_nurtured: bool = True
) -> Outcome:
    now = sub.received_at or timezone.now()
    contact = _find_contact(sub)
    known = contact is not None
    if known:
        _complete_contact(contact, sub)
        # The contact's row lock (taken in _find_contact) serialises requests
        # of this person; the open lead is read after it.
        open_lead = contact.leads.open().select_related("owner", "team").order_by("-created_at").first()
    else:
        # A person arriving twice at once fails here on the unique phone or
        # email, and take_lead retries.
        contact = Contact.objects.create(
            phone=sub.phone, email=sub.email, name=sub.name, company=sub.company, created_at=now
        )
        open_lead = None

    campaign = _campaign_for(sub)
    if open_lead is not None:
        request = _record_request(sub, contact, open_lead, campaign, now, repeat=True)
        recipients = [open_lead.owner] if open_lead.owner else _team_heads(open_lead)
        notify(
            recipients if notify_owner else [],
            NotificationKind.REPEAT_REQUEST,
            lead=open_lead,
            event=f"request:{request.pk}",
            params={"lead": open_lead.pk, "source": sub.source.name},
        )
        return Outcome(open_lead.pk, request.pk, repeat=True)
    nurtured = _nurtured_lead(contact) if known and start_clock and assign and return_nurtured else None
    if nurtured is not None:
        # A new request from someone in nurture brings that lead back to the queue
        # (DESIGN.md, intake: 200 repeat). A historical import (no clock) leaves
        # nurture alone and keeps the request as a lead of its own, as before.
        request = _record_request(sub, contact, nurtured, campaign, now, repeat=True)
        return_from_nurture(
            nurtured, ReturnTrigger.REQUEST, at=now, request=request, notify_owner=notify_owner
        )
        return Outcome(nurtured.pk, request.pk, repeat=True)

    lead = _new_lead(sub, contact, known, campaign, now)
    distribute = assign and sub.owner is None
    routed = None
    if distribute:
        # Routing reads only the lead's own fields: the team goes in with the
        # row, and the clock runs on that team's calendar.
        lead.team, routed = route(lead)
    lead.save()
    StageChange.objects.create(lead=lead, from_stage=None, to_stage=lead.stage, changed_at=now)
    request = _record_request(sub, contact, lead, campaign, now, repeat=False)
    if sub.owner is not None:
        assign_on_entry(lead, sub.owner, sub.entered_by, at=now)
    timer = None
    if start_clock:
        # The clock runs from arrival, whoever gets the lead and whenever.
        timer = start_first_contact_timer(lead, now)
    if distribute:
        # A failure here rolls back to a savepoint: the lead waits in its team's queue.
        assign_new_lead(lead, at=now, routed=routed, timer=timer)
    return Outcome(lead.pk, request.pk, repeat=False)


def _nurtured_lead(contact: Contact) -> Lead | None:
    """The contact's latest lead in nurture, if any (read under the contact's lock)."""
    return (
        contact.leads.filter(stage_id__in=Stage.ids_of(StageKind.NURTURE))
        .order_by("-created_at", "-id")
        .first()
    )


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


def _new_lead(sub: Submission, contact: Contact, known: bool, campaign, now) -> Lead:
    """The unsaved lead of `sub` (no team or owner yet)."""
    stage = Stage.by_code(StageCode.LEAD)
    product = Product.active_by_code(sub.product) if sub.product else None
    return Lead(
        contact=contact,
        source=sub.source,
        campaign=campaign,
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


def _record_request(sub: Submission, contact, lead, campaign, now, *, repeat: bool) -> InboundRequest:
    """The inbound request itself (every request is kept) and the consent it carried."""
    request = InboundRequest.objects.create(
        lead=lead,
        is_repeat=repeat,
        contact=contact,
        source=sub.source,
        campaign=campaign,
        channel=sub.channel,
        comment=sub.comment,
        product_text=sub.product,
        utm={k: v for k, v in sub.utm.items() if v},
        landing_page=sub.landing_page,
        extra=sub.extra,
        received_at=now,
    )
    Consent.objects.create(
        contact=contact,
        request=request,
        text_version=sub.consent_text,
        given_at=now,
        ip=sub.client_ip or None,
    )
    if sub.marketing_consent:
        # Recorded even for someone who unsubscribed: it is what they sent. The
        # unsubscribe still wins (leads.tracks.may_email), so nobody is re-subscribed.
        MarketingConsent.objects.create(
            contact=contact,
            request=request,
            text_version=sub.marketing_consent_text,
            given_at=now,
            ip=sub.client_ip or None,
        )
    return request


def _team_heads(lead: Lead) -> list:
    return [lead.team.head] if lead.team_id and lead.team.head_id else []


def channel_of(value: str) -> str:
    return value if value in EntryChannel.values else EntryChannel.API
