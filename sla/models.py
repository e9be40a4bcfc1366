"""The clock's data: business calendars now; SLA policies, timers, breaches and
the notifications outbox live here too."""

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from revops import display, refcache
from revops.models import WEEKDAYS
from revops.roles import RowVisibilityQuerySet


def _values(choices) -> list[str]:
    return [c.value for c in choices]


def validate_timezone(value: str):
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value}) from None


def validate_holiday_country(value: str):
    # An unknown code would only fail later, inside the deadline arithmetic of intake.
    if value and value not in holidays.list_supported_countries():
        raise ValidationError(
            _("“%(value)s” is not a country code with known public holidays."), params={"value": value}
        )


class BusinessCalendar(models.Model):
    """When a team works: a time zone, weekly hours with breaks, public holidays
    (with the production calendar's transfers) and exceptions per date."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=120)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Moscow", validators=[validate_timezone]
    )
    holiday_country = models.CharField(
        _("public holidays of"),
        max_length=2,
        blank=True,
        default="RU",
        help_text=_("ISO country code whose public holidays and transferred days apply; empty for none."),
        validators=[validate_holiday_country],
    )
    short_pre_holiday_days = models.BooleanField(
        _("shorten pre-holiday days"),
        default=True,
        help_text=_(
            "The working day before a public holiday ends one hour earlier (Russian Labour Code, "
            "art. 95). Applies to calendars with Russian holidays."
        ),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Bumped whenever the calendar, its hours or its exceptions change: the key
    # of cached schedules (a counter, because clocks can stand still).
    version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.version += 1
        super().save(*args, **kwargs)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def touch(self):
        """Mark the calendar changed (its hours or exceptions were edited), here
        and in the database, so cached schedules of it are rebuilt."""
        BusinessCalendar.objects.filter(pk=self.pk).update(
            version=F("version") + 1, updated_at=timezone.now()
        )
        self.refresh_from_db(fields=["version", "updated_at"])
        refcache.changed()  # cached teams carry their calendar and its version

    def set_exception(self, date: dt.date, windows=(), note: str = "") -> "CalendarException":
        """Make ``date`` closed (no windows) or worked in ``windows`` ((opens, closes)
        pairs, e.g. 09:00–13:00 and 14:00–17:00), replacing what it had."""
        with transaction.atomic():
            exception, _created = CalendarException.objects.update_or_create(
                calendar=self, date=date, defaults={"note": note}
            )
            exception.set_windows(windows)
        self.refresh_from_db(fields=["version", "updated_at"])
        return exception


class WorkingHours(models.Model):
    """One working window of a weekday; several per day make breaks (09–13, 14–19)."""

    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="hours"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=WEEKDAYS)
    opens = models.TimeField(_("opens"))
    # 00:00 as the closing time means midnight at the end of the day (24:00).
    closes = models.TimeField(_("closes"), help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="hours_weekday_valid"),
            models.CheckConstraint(
                condition=Q(closes__gt=F("opens")) | Q(closes=dt.time(0, 0)), name="hours_close_after_open"
            ),
            models.UniqueConstraint(fields=["calendar", "weekday", "opens"], name="hours_unique_start"),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self.calendar.touch()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        self.calendar.touch()
        return result


class CalendarException(models.Model):
    """A date that differs from the weekly pattern: closed all day (no windows), or
    working with its own windows (a transferred working Saturday, a short day with
    lunch: 09:00–13:00 and 14:00–17:00). Taken literally: holidays, transfers and
    short days of the production calendar do not change it."""

    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="exceptions"
    )
    date = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="exception_unique_date"),
        ]

    def __str__(self):
        hours = self.hours_text()
        return f"{display.day(self.date)}: {hours or _('closed')}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self.calendar.touch()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        self.calendar.touch()
        return result

    def window_pairs(self) -> tuple:
        """The windows as sorted (opens, closes) pairs; () when closed all day."""
        return tuple(sorted((w.opens, w.closes) for w in self.windows.all()))

    def hours_text(self) -> str:
        """The windows as the admin writes them: "09:00–13:00, 14:00–17:00" ("" if closed)."""
        return format_windows(self.window_pairs())

    @property
    def is_closed(self) -> bool:
        return not self.window_pairs()

    def set_windows(self, windows) -> None:
        """Replace the windows with ``windows`` ((opens, closes) pairs), validated as a
        whole: ordered, non-overlapping, each within the day (00:00 closes at 24:00)."""
        pairs = validate_day_windows(windows)
        with transaction.atomic():
            self.windows.all().delete()
            ExceptionWindow.objects.bulk_create(
                ExceptionWindow(exception=self, opens=opens, closes=closes) for opens, closes in pairs
            )
            self.calendar.touch()  # bulk writes skip ExceptionWindow.save()


def _end_minutes(t: dt.time) -> int:
    return 24 * 60 if t == dt.time(0, 0) else t.hour * 60 + t.minute


def format_windows(windows) -> str:
    return ", ".join(
        f"{opens:%H:%M}–{'24:00' if closes == dt.time(0, 0) else f'{closes:%H:%M}'}"
        for opens, closes in windows
    )


_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–—]\s*(\d{1,2}):(\d{2})\s*$")


def parse_windows(text: str) -> tuple:
    """ "09:00–13:00, 14:00–17:00" → validated (opens, closes) pairs; "" → () (closed).

    Windows are separated by commas, semicolons or new lines; 24:00 (or 00:00) as a
    closing time is midnight at the end of the day.
    """
    pairs = []
    for part in re.split(r"[,;\n]", text or ""):
        if not part.strip():
            continue
        match = _WINDOW_RE.match(part)
        if match is None:
            raise ValidationError(
                _("Cannot read “%(value)s”: write each window as 09:00–13:00, separated by commas."),
                code="window_syntax",
                params={"value": part.strip()},
            )
        open_h, open_m, close_h, close_m = (int(g) for g in match.groups())
        if open_h > 23 or open_m > 59 or close_m > 59 or close_h > 24 or (close_h == 24 and close_m):
            raise ValidationError(
                _("“%(value)s” is not a time of day."), code="window_time", params={"value": part.strip()}
            )
        pairs.append((dt.time(open_h, open_m), dt.time(close_h % 24, close_m)))
    return validate_day_windows(pairs)


def validate_day_windows(windows) -> tuple:
    """Sorted (opens, closes) pairs of one day, or ValidationError with a clear message."""
    pairs = sorted((opens, closes) for opens, closes in windows)
    previous = None
    for opens, closes in pairs:
        if opens.second or opens.microsecond or closes.second or closes.microsecond:
            raise ValidationError(_("Enter working hours to the minute."), code="seconds")
        if _end_minutes(closes) <= opens.hour * 60 + opens.minute:
            raise ValidationError(
                _(
                    "The window %(window)s must open before it closes (00:00 as the closing time means midnight)."
                ),
                code="window_order",
                params={"window": format_windows([(opens, closes)])},
            )
        if previous is not None and opens.hour * 60 + opens.minute < _end_minutes(previous[1]):
            raise ValidationError(
                _("The windows %(first)s and %(second)s overlap."),
                code="window_overlap",
                params={"first": format_windows([previous]), "second": format_windows([(opens, closes)])},
            )
        previous = (opens, closes)
    return tuple(pairs)


class ExceptionWindow(models.Model):
    """One working window of a calendar exception; several make a day with breaks."""

    exception = models.ForeignKey(
        CalendarException,
        verbose_name=_("calendar exception"),
        on_delete=models.CASCADE,
        related_name="windows",
    )
    opens = models.TimeField(_("opens"))
    # 00:00 as the closing time means midnight at the end of the day (24:00).
    closes = models.TimeField(_("closes"), help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        verbose_name = _("exception window")
        verbose_name_plural = _("exception windows")
        ordering = ["exception", "opens"]
        constraints = [
            # Overlaps between windows of one date are checked by validate_day_windows
            # (a portable constraint cannot see two rows); these catch the rest.
            models.CheckConstraint(
                condition=Q(closes__gt=F("opens")) | Q(closes=dt.time(0, 0)),
                name="exception_window_close_after_open",
            ),
            models.UniqueConstraint(fields=["exception", "opens"], name="exception_window_unique_start"),
        ]

    def __str__(self):
        return format_windows([(self.opens, self.closes)])

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self.exception.calendar.touch()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        self.exception.calendar.touch()
        return result


# --- notifications outbox ---------------------------------------------------------------------


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", _("In the app")
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Webhook")


class NotificationKind(models.TextChoices):
    NEW_LEAD = "new_lead", _("New lead")
    REPEAT_REQUEST = "repeat_request", _("Repeat request")
    ASSIGNED = "assigned", _("Lead assigned")
    SLA_REMINDER = "sla_reminder", _("SLA reminder")
    SLA_BREACH = "sla_breach", _("SLA breach")
    SLA_ESCALATION = "sla_escalation", _("SLA escalation")
    NURTURED = "nurtured", _("Sent to nurture")
    RETURNED = "returned", _("Back from nurture")
    # Issue #15: the loop between the departments.
    FEEDBACK_REPLY = "feedback_reply", _("Marketing replied to feedback")
    TRACK_TASK = "track_task", _("Nurture track task")
    DISPUTE_OPENED = "dispute_opened", _("Rejection disputed")
    DISPUTE_REMINDER = "dispute_reminder", _("Dispute decision due soon")
    DISPUTE_ESCALATION = "dispute_escalation", _("Dispute decision overdue")
    DISPUTE_DECIDED = "dispute_decided", _("Rejection dispute decided")


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class NotificationQuerySet(models.QuerySet):
    def due(self, now=None):
        """Rows waiting for a worker (served by the partial index `notification_due_idx`)."""
        return self.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now or timezone.now())

    def unread_for(self, user):
        return self.filter(recipient=user, channel=NotificationChannel.IN_APP, read_at__isnull=True)


class Notification(models.Model):
    """One message to one recipient on one channel, written in the same
    transaction as the event that caused it. Workers deliver pending rows; in-app
    rows are delivered by being written. `dedupe_key` is unique, so an event
    can never notify the same person twice on the same channel."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    channel = models.CharField(_("channel"), max_length=10, choices=NotificationChannel.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=NotificationKind.choices)
    lead = models.ForeignKey(
        "leads.Lead",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    # Parameters for the text, rendered in the recipient's language when shown or sent.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    target_url = models.URLField(_("webhook URL"), max_length=1000, blank=True)
    # Unique by a constraint in Meta, not unique=True: on PostgreSQL that would
    # add a second (LIKE) index that no query uses, paid on every insert.
    dedupe_key = models.CharField(max_length=200)
    state = models.CharField(
        _("state"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    # Set while a worker holds the row, so a second worker skips it; a stale
    # claim (worker killed) expires and the row is taken again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            # Used by NotificationQuerySet.due(): the worker's "what to send now".
            models.Index(
                fields=["next_attempt_at"], name="notification_due_idx", condition=Q(state="pending")
            ),
            models.Index(
                fields=["recipient", "-created_at"],
                name="notification_unread_idx",
                condition=Q(channel="in_app", read_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=_values(NotificationChannel)), name="notification_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(state__in=_values(DeliveryState)), name="notification_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel="webhook") | Q(recipient__isnull=False), name="notification_has_recipient"
            ),
            models.UniqueConstraint(fields=["dedupe_key"], name="notification_dedupe_key_unique"),
        ]

    def __str__(self):
        return (
            f"{self.get_kind_display()} → {self.recipient or self.target_url} ({self.get_channel_display()})"
        )


# --- policies, timers, breaches -------------------------------------------------------------------


class FirstContactRule(models.TextChoices):
    REACHED = "reached", _("Only a reached contact")
    ANY_ATTEMPT = "any_attempt", _("Any logged attempt")


class SlaPolicy(models.Model):
    """The agreed service levels for a kind of lead. The first active policy (by
    position) whose filled conditions all match applies; the default catches
    the rest."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    is_default = models.BooleanField(_("default policy"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    segment = models.ForeignKey(
        "leads.Segment", verbose_name=_("segment"), on_delete=models.CASCADE, null=True, blank=True
    )
    source = models.ForeignKey(
        "leads.Source", verbose_name=_("source"), on_delete=models.CASCADE, null=True, blank=True
    )
    product = models.ForeignKey(
        "leads.Product", verbose_name=_("product"), on_delete=models.CASCADE, null=True, blank=True
    )
    priority = models.CharField(_("priority"), max_length=10, blank=True)
    first_contact_seconds = models.PositiveIntegerField(
        _("first contact within, working seconds"), default=15 * 60
    )
    first_contact_rule = models.CharField(
        _("first contact is met by"),
        max_length=20,
        choices=FirstContactRule.choices,
        default=FirstContactRule.REACHED,
    )
    failed_attempts_to_nurture = models.PositiveSmallIntegerField(_("failed calls before nurture"), default=3)
    min_attempt_spacing_seconds = models.PositiveIntegerField(
        _("minimum spacing between counted attempts, s"), default=0
    )
    reminder_percent = models.PositiveSmallIntegerField(
        # xgettext:no-python-format
        _("remind the owner at, % of the time"),
        default=67,
        help_text=_("0 turns the reminder off."),
    )
    escalate_after_seconds = models.PositiveIntegerField(
        _("escalate to the executive after, s"),
        null=True,
        blank=True,
        default=60 * 60,
        help_text=_("After the breach, if nobody has resolved it. Empty: never."),
    )
    reassign_on_breach = models.BooleanField(_("reassign on breach"), default=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="sla_one_default"
            ),
            models.CheckConstraint(
                condition=Q(first_contact_seconds__gte=1), name="sla_first_contact_positive"
            ),
            models.CheckConstraint(
                condition=Q(failed_attempts_to_nurture__gte=1), name="sla_attempts_positive"
            ),
            models.CheckConstraint(
                condition=Q(reminder_percent__lte=99), name="sla_reminder_before_deadline"
            ),
            models.CheckConstraint(
                condition=Q(first_contact_rule__in=_values(FirstContactRule)),
                name="sla_first_contact_rule_valid",
            ),
        ]

    def __str__(self):
        return self.name

    def matches(self, lead) -> bool:
        if self.priority and self.priority != lead.priority:
            return False
        return all(
            getattr(self, f"{name}_id") is None or getattr(self, f"{name}_id") == getattr(lead, f"{name}_id")
            for name in ("segment", "source", "product")
        )


class TimerKind(models.TextChoices):
    FIRST_CONTACT = "first_contact", _("First contact")
    CALLBACK = "callback", _("Callback")


class TimerState(models.TextChoices):
    RUNNING = "running", _("Running")
    MET = "met", _("Met")
    BREACHED = "breached", _("Breached")
    CANCELLED = "cancelled", _("Cancelled")


class SlaTimer(models.Model):
    """One promise with a deadline: reach the new lead in time, or call back
    when agreed. `due_at` is computed once in working time and stored; the sweep
    only compares it with the clock."""

    # Indexed by slatimer_lead_idx (lead, kind); no second index on lead alone.
    lead = models.ForeignKey(
        "leads.Lead", verbose_name=_("lead"), on_delete=models.CASCADE, related_name="timers", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=20, choices=TimerKind.choices)
    policy = models.ForeignKey(
        SlaPolicy, verbose_name=_("policy"), on_delete=models.PROTECT, related_name="timers"
    )
    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.PROTECT, null=True, blank=True
    )
    state = models.CharField(
        _("state"), max_length=10, choices=TimerState.choices, default=TimerState.RUNNING
    )
    started_at = models.DateTimeField(_("started"))
    budget_seconds = models.PositiveIntegerField(_("working seconds allowed"))
    due_at = models.DateTimeField(_("due"))
    remind_at = models.DateTimeField(_("reminder at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)
    met_at = models.DateTimeField(_("met"), null=True, blank=True)
    breached_at = models.DateTimeField(_("breached"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    # Set when the sweep failed on this timer: it is retried after this time.
    sweep_retry_at = models.DateTimeField(null=True, blank=True, editable=False)
    attempt = models.ForeignKey(
        "leads.ContactAttempt",
        verbose_name=_("agreed on attempt"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("SLA timer")
        verbose_name_plural = _("SLA timers")
        ordering = ["due_at"]
        indexes = [
            # "What is due now": the sweep's query (sla.sweep.due_timers) reads only
            # running timers, so the index stays small at any number of leads.
            models.Index(fields=["due_at"], name="slatimer_running_due_idx", condition=Q(state="running")),
            models.Index(
                fields=["remind_at"],
                name="slatimer_remind_idx",
                condition=Q(state="running", reminded_at__isnull=True, remind_at__isnull=False),
            ),
            models.Index(fields=["lead", "kind"], name="slatimer_lead_idx"),
            # The head's board: first contacts made today (leads.board).
            models.Index(
                fields=["met_at"], name="slatimer_met_idx", condition=Q(state="met", kind="first_contact")
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=_values(TimerKind)), name="slatimer_kind_valid"),
            models.CheckConstraint(condition=Q(state__in=_values(TimerState)), name="slatimer_state_valid"),
            models.CheckConstraint(condition=Q(due_at__gte=F("started_at")), name="slatimer_due_after_start"),
            # At most one running first-contact clock per lead (a lead back from
            # nurture starts a fresh one after the old one ended).
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(kind="first_contact", state="running"),
                name="slatimer_one_running_first",
            ),
            models.CheckConstraint(
                condition=~Q(state="breached") | Q(breached_at__isnull=False),
                name="slatimer_breached_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="met") | Q(met_at__isnull=False), name="slatimer_met_has_time"
            ),
        ]

    def __str__(self):
        return f"#{self.lead_id} {self.get_kind_display()} {self.get_state_display()}"


class DelayOwner(models.TextChoices):
    # Short labels: they sit in narrow table columns.
    SYSTEM = "system", _("Nobody assigned")
    REP = "rep", _("Rep")


class Breach(models.Model):
    """A missed deadline, recorded once per timer: the database refuses a second."""

    timer = models.ForeignKey(
        SlaTimer, verbose_name=_("timer"), on_delete=models.CASCADE, related_name="breaches"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=TimerKind.choices)
    lead = models.ForeignKey(
        "leads.Lead", verbose_name=_("lead"), on_delete=models.CASCADE, related_name="breaches"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner at the deadline"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    team = models.ForeignKey(
        "revops.Team",
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    source = models.ForeignKey(
        "leads.Source",
        verbose_name=_("source"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    delay_owner = models.CharField(_("whose delay"), max_length=10, choices=DelayOwner.choices)
    due_at = models.DateTimeField(_("was due"))
    created_at = models.DateTimeField(_("breached"), default=timezone.now)
    escalate_at = models.DateTimeField(_("escalate at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    comment = models.TextField(_("comment"), blank=True)

    # A breach is visible by the owner at the deadline and the team, like a lead.
    objects = RowVisibilityQuerySet.as_manager()

    class Meta:
        verbose_name = _("SLA breach")
        verbose_name_plural = _("SLA breaches")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="breach_team_idx"),
            models.Index(fields=["owner", "-created_at"], name="breach_owner_idx"),
            models.Index(
                fields=["escalate_at"],
                name="breach_escalation_due_idx",
                condition=Q(escalated_at__isnull=True, resolved_at__isnull=True, escalate_at__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["timer", "kind"], name="breach_once_per_timer"),
            models.CheckConstraint(condition=Q(kind__in=_values(TimerKind)), name="breach_kind_valid"),
            models.CheckConstraint(
                condition=Q(delay_owner__in=_values(DelayOwner)), name="breach_delay_owner_valid"
            ),
        ]

    def __str__(self):
        return _("Lead #%(lead)s · %(kind)s · %(when)s") % {
            "lead": self.lead_id,
            "kind": self.get_kind_display(),
            "when": display.when(self.created_at),
        }


class TeamWebhook(models.Model):
    """An outgoing webhook of a team: SLA events POSTed as signed JSON."""

    team = models.ForeignKey(
        "revops.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(_("URL"), max_length=1000)
    secret = models.CharField(
        _("signing secret"),
        max_length=200,
        help_text=_("The body is signed with HMAC-SHA256 of this secret."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    allow_private = models.BooleanField(
        _("allow private addresses"),
        default=False,
        help_text=_("Allow loopback and private networks (only for receivers inside your network)."),
    )

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["team", "url"]

    def __str__(self):
        return f"{self.team}: {self.url}"
