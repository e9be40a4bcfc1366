"""People and teams: who works in revops and in which team."""

from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from revops.roles import COMPANY_WIDE_ROLES, MARKETING_ROLES, STAFF_ROLES, Role


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

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["sales", "marketing"]), name="team_kind_valid"
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

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]),
                name="user_role_valid",
            ),
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
