"""The funnel's fixed vocabulary. Codes are the public contract (DESIGN.md);
labels are translated."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class StageKind(models.TextChoices):
    """A stage's type; a lead's status is its current stage's kind."""

    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    NURTURE = "nurture", _("Nurture")


# The stage codes the product relies on (seeded; more stages may be added).
class StageCode:
    LEAD = "lead"
    QUALIFICATION = "qualification"
    MEETING = "meeting"
    PROPOSAL = "proposal"
    DEAL = "deal"
    LOST = "lost"
    NURTURE = "nurture"


class Qualification(models.TextChoices):
    NONE = "none", _("Not qualified")
    MQL = "mql", _("MQL")
    SQL = "sql", _("SQL")


class Fit(models.TextChoices):
    """How well a lead or segment fits the ideal customer profile."""

    UNKNOWN = "", _("Not assessed")
    OURS = "ours", _("Ours")
    CONDITIONAL = "conditional", _("Conditionally ours")
    NOT_OURS = "not_ours", _("Not ours")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


# Sort weight of priorities (urgent first).
PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


class NextStep(models.TextChoices):
    """What the rep will do next about an open lead, and when (issue #14)."""

    CALL = "call", _("Call back")
    MEETING = "meeting", _("Meeting")


class EntryChannel(models.TextChoices):
    """How a lead entered revops."""

    FORM = "form", _("Site form")
    CHAT = "chat", _("Chat")
    CALL = "call", _("Phone call")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    MANUAL = "manual", _("Manual entry")


class IntakeChannel(models.TextChoices):
    """The entry channels an integrator may declare on POST /api/v1/intake/."""

    FORM = "form", _("Site form")
    CHAT = "chat", _("Chat")
    CALL = "call", _("Phone call")
    API = "api", _("API")


class SourceKind(models.TextChoices):
    PAID = "paid", _("Paid advertising")
    ORGANIC = "organic", _("Organic")
    SOCIAL = "social", _("Social media")
    EVENT = "event", _("Events")
    REFERRAL = "referral", _("Referrals")
    PARTNER = "partner", _("Partners")
    OUTBOUND = "outbound", _("Outbound")
    OTHER = "other", _("Other")


class ReasonSide(models.TextChoices):
    """Which department usually owns a rejection reason."""

    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")
    CLIENT = "client", _("Client")


class CriterionLevel(models.TextChoices):
    MQL = "mql", _("MQL")
    SQL = "sql", _("SQL")


class Answer(models.TextChoices):
    YES = "yes", _("Yes")
    NO = "no", _("No")
    UNKNOWN = "unknown", _("Unknown")


class AttemptChannel(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    MESSENGER = "messenger", _("Messenger")


class AttemptOutcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    VOICEMAIL = "voicemail", _("Voicemail")


# A failed attempt counts towards "N unanswered calls → nurture".
FAILED_CALL_OUTCOMES = frozenset({AttemptOutcome.NO_ANSWER, AttemptOutcome.BUSY, AttemptOutcome.VOICEMAIL})


class DealStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class RejectionCode:
    OTHER = "other"


class AssignmentKind(models.TextChoices):
    AUTO = "auto", _("Automatic")
    MANUAL = "manual", _("By hand")
    BULK = "bulk", _("Bulk reassignment")
    QUEUE = "queue", _("From the waiting queue")
    SLA = "sla", _("After an SLA breach")
    RETURN = "return", _("Back from nurture")


class ReturnState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Returned")
    CANCELLED = "cancelled", _("Cancelled")


class ReturnTrigger(models.TextChoices):
    DATE = "date", _("Return date")
    REQUEST = "request", _("New request")
    HAND = "hand", _("By hand")


class StepKind(models.TextChoices):
    """What one step of a nurture track does (leads.models.tracks)."""

    EMAIL = "email", _("Send an email")
    WAIT = "wait", _("Wait")
    TASK = "task", _("Task for a marketer")


class EnrollmentState(models.TextChoices):
    ACTIVE = "active", _("On the track")
    FINISHED = "finished", _("Track finished")
    STOPPED = "stopped", _("Stopped")


class NurtureCode:
    """Nurture reasons the code itself names (the attempts rule sends silent leads
    to nurture with this one)."""

    NO_ANSWER = "no_answer"
    OTHER = "other"


class DisputeState(models.TextChoices):
    """Where a dispute of a rejection stands (leads.disputes)."""

    OPEN = "open", _("Awaiting decision")
    UPHELD = "upheld", _("Rejection upheld")
    OVERTURNED = "overturned", _("Rejection overturned")


class DisputeOutcome(models.TextChoices):
    """What the head may decide (the decided states of DisputeState)."""

    UPHELD = DisputeState.UPHELD.value, DisputeState.UPHELD.label
    OVERTURNED = DisputeState.OVERTURNED.value, DisputeState.OVERTURNED.label
