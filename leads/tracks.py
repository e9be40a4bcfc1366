"""Nurture tracks at work (issue #15): putting a lead on a track when it goes to
nurture, running the steps when they are due, the track emails' outbox and
its delivery, consent to advertising and unsubscribing.

Enrollment. A lead sent to nurture with a listed reason (Lead.nurture_cause)
goes on the oldest active track that lists that reason; its first step is due
once the card's Undo window has passed (an undone nurture never emails). A
return from nurture or an undo stops the enrollment; the last step done
finishes it.

Steps are due rows swept like SLA timers (sla.sweep runs `run_due` as its
"track_steps" step, registered in leads/apps.py), never Celery ETAs. Each
enrollment is handled in its own transaction: the lead's row locked (SKIP
LOCKED, as leads.returns does: a lead another sweep or a person holds waits
for the next pass), then the enrollment moved past its step by a conditional
update (still active, still at that step), so a step runs once however many
sweeps run. What the step makes — an outbox row for an email, a task — is
written in that same transaction.

Emails. The outbox row (TrackEmail) is sent by `deliver_due` (the sweep's
"track_emails" step): claimed by a conditional update with an expiring hold,
sent through Django's email backend (files in the embedded mode), marked sent
with the timeline event. A worker killed between sending and marking leaves a
hold that expires, so delivery is at-least-once there — each message carries
a stable Message-ID from its row so mail systems drop a repeat — and never
twice from two sweeps. A track emails only a contact with an email address,
consent to advertising (38-FZ art. 18) and no unsubscribe; otherwise the step
is skipped with the reason on the timeline. Every email carries a signed
unsubscribe link (no expiry, a salt of its own) and List-Unsubscribe headers.
"""

import datetime as dt
import logging

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import VariableNode
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.choices import EnrollmentState, StageKind, StepKind
from leads.models import (
    Contact,
    Lead,
    LeadEvent,
    MarketingConsent,
    MarketingTask,
    NurtureTrack,
    TrackEmail,
    TrackEmailState,
    TrackEnrollment,
    Unsubscribe,
)
from revops import display
from revops.models import User
from revops.roles import MARKETING_ROLES
from sla.models import NotificationKind
from sla.notify import notify

logger = logging.getLogger(__name__)

BATCH = 500
RETRY_SECONDS = 60
DELIVERY_BATCH = 100
CLAIM_SECONDS = 120
MAX_ATTEMPTS = 8
BACKOFF_SECONDS = (60, 300, 900, 3600)
# The card offers Undo for a nurture this long (leads.actions.UNDO_WINDOW): the
# first step waits it out, so an undone nurture sends nothing.
FIRST_STEP_DELAY = dt.timedelta(seconds=20)
UNSUBSCRIBE_SALT = "leads.tracks.unsubscribe"


# --- enrollment ------------------------------------------------------------------------------------


def track_for(cause) -> NurtureTrack | None:
    """The active track that takes leads nurtured for `cause` (the oldest, should
    the editor's rule "one active track per reason" ever be bypassed)."""
    if cause is None:
        return None
    return NurtureTrack.objects.filter(is_active=True, reasons=cause).order_by("created_at", "id").first()


def enroll(lead: Lead, change, at: dt.datetime, actor=None) -> TrackEnrollment | None:
    """Put `lead`, just sent to nurture by `change`, on the track of its listed
    reason. Called by leads.actions._to_nurture inside its transaction, with the
    lead's row locked. No track, or a track without steps: nothing."""
    track = track_for(lead.nurture_cause)
    if track is None:
        return None
    first = track.steps.order_by("position").first()
    if first is None:
        return None
    stop(lead, at)  # a lead is on one track at a time (enrollment_one_active)
    enrollment = TrackEnrollment.objects.create(
        lead=lead,
        track=track,
        nurture_change=change,
        step=first,
        due_at=at + FIRST_STEP_DELAY,
        started_at=at,
    )
    LeadEvent.objects.create(
        lead=lead,
        kind=LeadEvent.Kind.ENROLLED,
        actor=actor,
        created_at=at,
        data={"track": track.pk, "name": track.name},
    )
    return enrollment


def stop(lead: Lead, at: dt.datetime) -> int:
    """Take `lead` off its track (it left nurture: a return or an undo). Its
    emails not sent yet are not sent."""
    active = TrackEnrollment.objects.filter(lead=lead, state=EnrollmentState.ACTIVE)
    ids = list(active.values_list("pk", flat=True))
    if not ids:
        return 0
    TrackEmail.objects.filter(enrollment_id__in=ids, state=TrackEmailState.PENDING).update(
        state=TrackEmailState.CANCELLED, last_error="stopped"
    )
    return TrackEnrollment.objects.filter(pk__in=ids, state=EnrollmentState.ACTIVE).update(
        state=EnrollmentState.STOPPED, ended_at=at, due_at=None
    )


def stop_track(track: NurtureTrack, at: dt.datetime) -> int:
    """A track switched off takes its leads off it (its emails not sent yet are
    not sent): "off" is how marketing stops a track that went wrong."""
    ids = list(track.enrollments.filter(state=EnrollmentState.ACTIVE).values_list("pk", flat=True))
    TrackEmail.objects.filter(enrollment_id__in=ids, state=TrackEmailState.PENDING).update(
        state=TrackEmailState.CANCELLED, last_error="stopped"
    )
    return TrackEnrollment.objects.filter(pk__in=ids, state=EnrollmentState.ACTIVE).update(
        state=EnrollmentState.STOPPED, ended_at=at, due_at=None
    )


# --- the sweep's step ------------------------------------------------------------------------------


def due_enrollments(now: dt.datetime):
    """Active enrollments whose next step is due (the partial index
    `enrollment_due_idx`), minus those that failed recently and wait for a retry."""
    return TrackEnrollment.objects.filter(state=EnrollmentState.ACTIVE, due_at__lte=now).filter(
        Q(sweep_retry_at__isnull=True) | Q(sweep_retry_at__lte=now)
    )


def run_due(now: dt.datetime, batch: int = BATCH) -> int:
    """Run the due steps; registered as the sweep's "track_steps" step.
    Returns how many steps ran (a finish counts as one)."""
    done = 0
    due = list(due_enrollments(now).order_by("due_at", "id").values_list("pk", "lead_id")[:batch])
    for pk, lead_id in due:
        try:
            with transaction.atomic():
                locked = list(
                    Lead.objects.select_for_update(skip_locked=True)
                    .filter(pk=lead_id)
                    .values_list("pk", flat=True)
                )
                if locked and _run_one(pk, now):
                    done += 1
        except Exception:
            logger.exception("track enrollment %s failed; retrying in %ss", pk, RETRY_SECONDS)
            TrackEnrollment.objects.filter(pk=pk).update(
                sweep_retry_at=now + dt.timedelta(seconds=RETRY_SECONDS)
            )
    return done


def _run_one(pk: int, now: dt.datetime) -> bool:
    enrollment = (
        TrackEnrollment.objects.select_related("step", "track", "lead__stage", "lead__contact")
        .filter(pk=pk, state=EnrollmentState.ACTIVE, due_at__lte=now)
        .first()
    )
    if enrollment is None:
        return False  # another sweep ran it, or a return stopped it meanwhile
    lead, step = enrollment.lead, enrollment.step
    if lead.stage.kind != StageKind.NURTURE:
        # Left nurture some way that did not stop the track: nothing more is due.
        return bool(stop(lead, now))
    done = set(enrollment.done_steps)
    # A track reordered while the lead was on it can bring a step it has run up
    # again: that step is passed over, never run twice.
    run = step if step is not None and step.pk not in done else None
    following = (
        enrollment.track.steps.filter(position__gt=step.position)
        .exclude(pk__in=done | {step.pk})
        .order_by("position")
        .first()
        if step is not None
        else None
    )
    if run is not None and run.kind == StepKind.WAIT:
        # The pause runs now; whatever follows (or the finish) is due after it.
        due_at = now + dt.timedelta(days=run.wait_days or 0)
    else:
        due_at = now
    finished = following is None and (run is None or run.kind != StepKind.WAIT)
    claim = TrackEnrollment.objects.filter(
        pk=pk, state=EnrollmentState.ACTIVE, step=step, due_at=enrollment.due_at
    )
    done_steps = sorted(done | {run.pk}) if run is not None else sorted(done)
    if finished:
        claimed = claim.update(
            state=EnrollmentState.FINISHED, step=None, due_at=None, ended_at=now, done_steps=done_steps
        )
    else:
        claimed = claim.update(step=following, due_at=due_at, sweep_retry_at=None, done_steps=done_steps)
    if not claimed:
        return False
    if run is not None and run.kind == StepKind.EMAIL:
        _queue_email(enrollment, lead, run, now)
    elif run is not None and run.kind == StepKind.TASK:
        _make_task(enrollment, lead, run, now)
    if finished:
        LeadEvent.objects.create(
            lead=lead,
            kind=LeadEvent.Kind.TRACK_ENDED,
            created_at=now,
            data={"track": enrollment.track_id, "name": enrollment.track.name},
        )
    return True


def remove_steps(track: NurtureTrack, removed: list[int]) -> None:
    """Before the editor deletes the steps `removed` from `track`: the leads
    whose next step is one of them go on to the next step kept (in the track's
    order before the edit), so deleting a step never ends a track early. None
    kept after it: they finish when it was due."""
    if not removed:
        return
    order = list(track.steps.order_by("position").values_list("pk", flat=True))
    gone = set(removed)
    for pk in removed:
        after = order[order.index(pk) + 1 :] if pk in order else []
        replacement = next((step for step in after if step not in gone), None)
        TrackEnrollment.objects.filter(track=track, state=EnrollmentState.ACTIVE, step_id=pk).update(
            step_id=replacement
        )


# --- emails ---------------------------------------------------------------------------------------

SKIP_TEXTS = {
    "no_email": gettext_lazy("no email address"),
    "no_consent": gettext_lazy("no consent to advertising"),
    "unsubscribed": gettext_lazy("unsubscribed"),
    "template": gettext_lazy("the template could not be filled in"),
}


def may_email(contact: Contact) -> str:
    """Why a track may not email `contact` (a SKIP_TEXTS code), or "" when it may."""
    if not contact.email:
        return "no_email"
    if Unsubscribe.objects.filter(contact=contact).exists():
        return "unsubscribed"
    if not MarketingConsent.objects.filter(contact=contact).exists():
        return "no_consent"
    return ""


def _queue_email(enrollment, lead, step, now) -> None:
    contact = lead.contact
    why = may_email(contact)
    subject = body = ""
    if not why:
        try:
            context = template_context(lead)
            subject = " ".join(render(step.subject, context).split())[:300]
            body = render(step.body, context)
        except Exception:
            logger.exception("track step %s: template failed for lead %s", step.pk, lead.pk)
            why = "template"
    if why:
        LeadEvent.objects.create(
            lead=lead,
            kind=LeadEvent.Kind.TRACK_EMAIL,
            created_at=now,
            data={"skipped": why, "step": step.pk, "track": enrollment.track_id},
        )
        return
    TrackEmail.objects.create(
        enrollment=enrollment,
        step=step,
        lead=lead,
        contact=contact,
        to=contact.email,
        subject=subject or step.subject[:300],
        body=body,
        created_at=now,
        next_attempt_at=now,
    )


def deliver_due(now: dt.datetime, limit: int = DELIVERY_BATCH) -> int:
    """Send the due outbox rows; registered as the sweep's "track_emails" step.
    Returns how many were sent."""
    sent = 0
    due = list(
        TrackEmail.objects.filter(state=TrackEmailState.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        claimed = (
            TrackEmail.objects.filter(pk=pk, state=TrackEmailState.PENDING)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=now + dt.timedelta(seconds=CLAIM_SECONDS))
        )
        if not claimed:
            continue  # another worker has it
        email = TrackEmail.objects.select_related("contact").get(pk=pk)
        # An unsubscribe between queueing and now is honoured here too.
        if Unsubscribe.objects.filter(contact_id=email.contact_id).exists():
            TrackEmail.objects.filter(pk=pk, state=TrackEmailState.PENDING).update(
                state=TrackEmailState.CANCELLED, claimed_until=None, last_error="unsubscribed"
            )
            continue
        try:
            message(email).send(fail_silently=False)
        except Exception as exc:  # stored on the row and retried with backoff
            attempts = email.attempts + 1
            final = attempts >= MAX_ATTEMPTS
            delay = BACKOFF_SECONDS[min(attempts - 1, len(BACKOFF_SECONDS) - 1)]
            # Only a row still pending: a return or unsubscribe may have cancelled it meanwhile.
            TrackEmail.objects.filter(pk=pk, state=TrackEmailState.PENDING).update(
                attempts=attempts,
                state=TrackEmailState.FAILED if final else TrackEmailState.PENDING,
                next_attempt_at=now + dt.timedelta(seconds=delay),
                claimed_until=None,
                last_error=f"{exc.__class__.__name__}: {exc}"[:500],
            )
            logger.warning("track email %s failed, attempt %s: %s", pk, attempts, exc.__class__.__name__)
            continue
        with transaction.atomic():
            if TrackEmail.objects.filter(pk=pk, state=TrackEmailState.PENDING).update(
                state=TrackEmailState.SENT,
                sent_at=now,
                attempts=email.attempts + 1,
                claimed_until=None,
                last_error="",
            ):
                LeadEvent.objects.create(
                    lead_id=email.lead_id,
                    kind=LeadEvent.Kind.TRACK_EMAIL,
                    created_at=now,
                    data={"subject": email.subject, "email": email.pk, "track": _track_of(email)},
                )
                sent += 1
    return sent


def _track_of(email: TrackEmail) -> int | None:
    return TrackEnrollment.objects.filter(pk=email.enrollment_id).values_list("track_id", flat=True).first()


def message(email: TrackEmail) -> EmailMessage:
    """The email of an outbox row: its text, the unsubscribe link under it, and
    the one-click unsubscribe headers (RFC 2369, RFC 8058)."""
    url = unsubscribe_url(email.contact)
    footer = _("Unsubscribe from these emails: %(url)s") % {"url": url}
    return EmailMessage(
        subject=email.subject,
        body=f"{email.body.rstrip()}\n\n--\n{footer}\n",
        to=[email.to],
        headers={
            "Message-ID": f"<track-email.{email.pk}@revops>",
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


# --- templates ------------------------------------------------------------------------------------

# Marketers write subjects and bodies with the lead's fields in them. The engine
# knows only `if` and a few text filters (no include, load, url…), and the
# context holds plain strings, never model objects, so a template can read
# nothing beyond them. Filters that pad or format to a width the template names
# (center, ljust, rjust, stringformat…) are left out: "{{ name|ljust:999999999 }}"
# would build a gigabyte in the worker. Plain text: nothing is HTML-escaped.
SAFE_FILTERS = (
    "capfirst",
    "cut",
    "default",
    "default_if_none",
    "first",
    "last",
    "length",
    "lower",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "wordcount",
    "yesno",
)
_library = Library()
_library.tag("if", defaulttags.do_if)
for _name in SAFE_FILTERS:
    _library.filter(_name, defaultfilters.register.filters[_name])
ENGINE = Engine(autoescape=False, string_if_invalid="")
ENGINE.template_builtins = [_library]

FIELDS = {
    "name": gettext_lazy("the person's name"),
    "company": gettext_lazy("their company"),
    "position": gettext_lazy("their job title"),
    "product": gettext_lazy("the product they asked about"),
    "owner": gettext_lazy("the sales rep's name"),
    "source": gettext_lazy("where the lead came from"),
    "lead": gettext_lazy("the lead's number"),
}


def template_context(lead: Lead) -> dict[str, str]:
    contact = lead.contact
    product = lead.product.name if lead.product_id else lead.product_text
    return {
        "name": contact.name,
        "company": contact.company,
        "position": contact.position,
        "product": product,
        "owner": str(lead.owner) if lead.owner_id else "",
        "source": lead.source.name if lead.source_id else "",
        "lead": str(lead.pk),
    }


def compile_template(text: str) -> Template:
    return Template(text, engine=ENGINE)


def render(text: str, context: dict[str, str]) -> str:
    return compile_template(text).render(Context(context, autoescape=False))


def template_errors(text: str) -> list[str]:
    """What is wrong with a marketer's template, for the editor: its syntax,
    and any field that is not one of FIELDS (a typo would silently print nothing)."""
    try:
        template = compile_template(text)
    except TemplateSyntaxError as exc:
        return [_("The template has an error: %(error)s") % {"error": exc}]
    unknown = []
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        var = node.filter_expression.var
        lookups = getattr(var, "lookups", None)
        if lookups and lookups[0] not in FIELDS and lookups[0] not in unknown:
            unknown.append(lookups[0])
    if unknown:
        return [
            _("Unknown field %(fields)s; the fields are: %(known)s.")
            % {
                "fields": ", ".join(f"{{{{ {name} }}}}" for name in unknown),
                "known": ", ".join(f"{{{{ {name} }}}}" for name in FIELDS),
            }
        ]
    try:
        render(text, dict.fromkeys(FIELDS, "x"))
    except Exception as exc:  # a filter that refuses a string, say
        return [_("The template has an error: %(error)s") % {"error": exc}]
    return []


# --- tasks ----------------------------------------------------------------------------------------


def _make_task(enrollment, lead, step, now) -> MarketingTask:
    task = MarketingTask.objects.create(
        lead=lead, enrollment=enrollment, step=step, text=step.task_text, created_at=now
    )
    LeadEvent.objects.create(
        lead=lead,
        kind=LeadEvent.Kind.TRACK_TASK,
        created_at=now,
        data={"text": step.task_text, "task": task.pk, "track": enrollment.track_id},
    )
    marketers = User.objects.filter(role__in=MARKETING_ROLES, is_active=True)
    notify(
        marketers,
        NotificationKind.TRACK_TASK,
        lead=lead,
        event=f"track_task:{task.pk}",
        params={"lead": lead.pk, "task": task.pk},
    )
    return task


@transaction.atomic
def complete_task(task: MarketingTask, actor, at: dt.datetime | None = None) -> bool:
    """Mark an open task done; False when someone did it already."""
    at = at or timezone.now()
    return bool(
        MarketingTask.objects.filter(pk=task.pk, done_at__isnull=True).update(done_at=at, done_by=actor)
    )


# --- consent and unsubscribing ----------------------------------------------------------------------


def unsubscribe_token(contact: Contact) -> str:
    return signing.dumps(contact.pk, salt=UNSUBSCRIBE_SALT, compress=True)


def contact_id_from(token: str) -> int | None:
    """The contact a token names, or None for a forged, damaged or foreign one."""
    try:
        value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def unsubscribe_url(contact: Contact) -> str:
    return settings.SITE_URL + reverse("tracks:unsubscribe", args=[unsubscribe_token(contact)])


@transaction.atomic
def unsubscribe(contact: Contact, at: dt.datetime | None = None) -> bool:
    """Stop every marketing email to `contact`, at once and for good: the
    emails not sent yet are cancelled. False when they had unsubscribed before."""
    at = at or timezone.now()
    _row, created = Unsubscribe.objects.get_or_create(
        contact=contact, defaults={"email": contact.email, "created_at": at}
    )
    TrackEmail.objects.filter(contact=contact, state=TrackEmailState.PENDING).update(
        state=TrackEmailState.CANCELLED, last_error="unsubscribed"
    )
    if created:
        LeadEvent.objects.bulk_create(
            LeadEvent(lead_id=lead_id, kind=LeadEvent.Kind.UNSUBSCRIBED, created_at=at, data={})
            for lead_id in contact.leads.order_by("-created_at").values_list("pk", flat=True)[:50]
        )
    return created


def advertising_status(contact: Contact) -> str:
    """The card's line on marketing email for `contact`: agreed, not, or unsubscribed."""
    left = Unsubscribe.objects.filter(contact=contact).values_list("created_at", flat=True).first()
    if left is not None:
        return _("unsubscribed on %(day)s") % {"day": display.day(timezone.localdate(left))}
    given = MarketingConsent.objects.filter(contact=contact).order_by("-given_at").first()
    if given is None:
        return _("no consent")
    return _("agreed on %(day)s") % {"day": display.day(timezone.localdate(given.given_at))}


# --- how the card tells it -------------------------------------------------------------------------


def describe_event(event: LeadEvent) -> str:
    """A track event's line on the card, in the reader's language."""
    data = event.data or {}
    if event.kind == LeadEvent.Kind.ENROLLED:
        return _("track “%(name)s”") % {"name": data.get("name", "")}
    if event.kind == LeadEvent.Kind.TRACK_ENDED:
        return _("track “%(name)s” is done") % {"name": data.get("name", "")}
    if event.kind == LeadEvent.Kind.TRACK_EMAIL:
        if data.get("skipped"):
            why = SKIP_TEXTS.get(data["skipped"], data["skipped"])
            return _("not sent: %(why)s") % {"why": why}
        return "«" + data.get("subject", "") + "»"
    if event.kind == LeadEvent.Kind.TRACK_TASK:
        return data.get("text", "")
    return ""
