"""People and teams: who works in revops and in which team."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from revops.roles import COMPANY_WIDE_ROLES, MARKETING_ROLES, STAFF_ROLES, Role

# Monday first, as datetime.weekday() counts: shifts here, working hours in sla.
WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class DistributionMode(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round-robin")
    WEIGHTED = "weighted", _("Weighted round-robin")
    LEAST_OPEN = "least_open", _("Least loaded: open leads")
    LEAST_TODAY = "least_today", _("Least loaded: leads today")


class Team(models.Model):
    class Kind(models.TextChoices):
        SALES = "sales", _("Sales")
        MARKETING = "marketing", _("Marketing")

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.SALES)
    head = models.ForeignKey(
        "revops.User",
        verbose_name=_("head"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="headed_teams",
    )
    calendar = models.ForeignKey(
        "sla.BusinessCalendar",
        verbose_name=_("business calendar"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="teams",
    )
    distribution_mode = models.CharField(
        _("distribution"),
        max_length=20,
        choices=DistributionMode.choices,
        default=DistributionMode.ROUND_ROBIN,
    )
    daily_cap = models.PositiveIntegerField(
        _("new leads per rep per day"), null=True, blank=True, help_text=_("Empty: no cap.")
    )
    # How long the head has to decide marketing's dispute of a rejection (leads.disputes):
    # working hours on the team's calendar, so weekends and holidays do not count.
    dispute_working_hours = models.PositiveSmallIntegerField(
        _("time to decide a disputed rejection, working hours"),
        default=16,
        help_text=_("On the team's calendar; 16 is two 8-hour working days."),
    )
    # The round-robin ticket counter (leads.assignment.next_ticket).
    rr_counter = models.BigIntegerField(default=0, editable=False)
    fallback_team = models.ForeignKey(
        "self",
        verbose_name=_("fallback team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Gets the lead when nobody in this team can take it."),
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["sales", "marketing"]), name="team_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(dispute_working_hours__gte=1, dispute_working_hours__lte=2000),
                name="team_dispute_hours_range",
            ),
        ]

    def __str__(self):
        return self.name


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.REP)
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.SET_NULL, null=True, blank=True, related_name="members"
    )
    language = models.CharField(
        _("language"),
        max_length=5,
        blank=True,
        choices=[("ru", "Русский"), ("en", "English")],
        help_text=_("Interface language; empty means the browser's."),
    )
    phone = models.CharField(_("work phone"), max_length=20, blank=True)
    # Distribution: whether and how much of the flow of new leads a rep takes.
    accepts_leads = models.BooleanField(_("takes new leads"), default=True)
    lead_weight = models.PositiveSmallIntegerField(
        _("share of new leads"), default=1, help_text=_("Weight in weighted round-robin.")
    )
    daily_lead_cap = models.PositiveIntegerField(
        _("own daily cap"), null=True, blank=True, help_text=_("Empty: the team's cap.")
    )
    # How the rep's queue is sorted; remembered across visits and logins.
    queue_order = models.CharField(max_length=20, default="urgency", editable=False)
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]),
                name="user_role_valid",
            ),
            models.CheckConstraint(condition=models.Q(lead_weight__gte=1), name="user_lead_weight_positive"),
        ]

    def __str__(self):
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs):
        # Admins are superusers; heads and admins may open the admin site.
        if self.role == Role.ADMIN:
            self.is_superuser = True
        if self.role in STAFF_ROLES:
            self.is_staff = True
        super().save(*args, **kwargs)
        self.sync_role_group()

    def sync_role_group(self):
        """Keep the user in exactly the group of their role (groups carry model permissions)."""
        role_groups = Group.objects.filter(name__in=[r.value for r in Role])
        wanted = role_groups.filter(name=self.role).first()
        current = set(self.groups.filter(name__in=[r.value for r in Role]).values_list("name", flat=True))
        if current == {self.role}:
            return
        self.groups.remove(*role_groups.exclude(name=self.role))
        if wanted:
            self.groups.add(wanted)

    # --- what the role allows -------------------------------------------------
    @property
    def is_rep(self) -> bool:
        return self.role == Role.REP

    @property
    def is_sales_head(self) -> bool:
        return self.role == Role.SALES_HEAD

    @property
    def is_marketing(self) -> bool:
        return self.role in MARKETING_ROLES

    @property
    def sees_all_leads(self) -> bool:
        return self.is_superuser or self.role in COMPANY_WIDE_ROLES

    @property
    def can_work_leads(self) -> bool:
        """Reps and heads of sales act on leads (within their rows); the rest read."""
        return self.is_superuser or self.role in {Role.REP, Role.SALES_HEAD, Role.ADMIN}


class Shift(models.Model):
    """A rep's weekly working window, in the time zone of the team's calendar."""

    user = models.ForeignKey(User, verbose_name=_("rep"), on_delete=models.CASCADE, related_name="shifts")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=WEEKDAYS)
    starts = models.TimeField(_("starts"))
    # 00:00 as the end means midnight at the end of the day.
    ends = models.TimeField(_("ends"))

    class Meta:
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        ordering = ["user", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6), name="shift_weekday_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(ends__gt=models.F("starts")) | models.Q(ends="00:00"),
                name="shift_ends_after_start",
            ),
            models.UniqueConstraint(fields=["user", "weekday", "starts"], name="shift_unique_start"),
        ]

    def __str__(self):
        return f"{self.user} {self.get_weekday_display()} {self.starts:%H:%M}–{self.ends:%H:%M}"


class Absence(models.Model):
    class Kind(models.TextChoices):
        VACATION = "vacation", _("Vacation")
        SICK = "sick", _("Sick leave")
        OTHER = "other", _("Other")

    user = models.ForeignKey(
        User, verbose_name=_("person"), on_delete=models.CASCADE, related_name="absences"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.VACATION)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("to (inclusive)"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        ordering = ["-starts_on"]
        indexes = [models.Index(fields=["user", "ends_on"], name="absence_user_end_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="absence_dates_ordered"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["vacation", "sick", "other"]), name="absence_kind_valid"
            ),
        ]

    def __str__(self):
        return f"{self.user}: {self.get_kind_display()} {self.starts_on}–{self.ends_on}"


class ApiTokenQuerySet(models.QuerySet):
    def live(self, now=None):
        return self.filter(expires_at__gt=now or timezone.now())


class ApiToken(models.Model):
    """A secret an integration sends as `Authorization: Token <secret>`.

    Only the SHA-256 of the secret is stored: the secret is 256 random bits, so
    a plain digest cannot be reversed, and it is looked up by its unique index in
    one query. A person may hold several (one per integration); each expires,
    and all of a person's die when the password changes or the account is
    deactivated (revops/tokens.py). Signing out of the browser leaves them alone.
    """

    user = models.ForeignKey(
        User, verbose_name=_("person"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"), db_index=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="apitoken_expires_after_created",
            ),
        ]

    def __str__(self):
        return self.name or _("token #%(id)s") % {"id": self.pk}

    PREFIX = "rvo_"  # recognisable in a leaked file or a secret scanner's report

    @staticmethod
    def digest_of(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, user, *, name: str = "", days: int | None = None) -> tuple["ApiToken", str]:
        """A new token for the user; returns the row and the secret, which is
        shown this once and never stored. The user's expired tokens go."""
        now = timezone.now()
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            digest=cls.digest_of(secret),
            created_at=now,
            expires_at=now + timedelta(days=days or settings.API_TOKEN_DAYS),
        )
        cls.objects.filter(user=user, expires_at__lte=now).delete()
        return token, secret

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
