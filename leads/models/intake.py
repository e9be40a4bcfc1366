"""What intake needs besides the lead: keys, site forms, idempotency records, consents."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.models.lead import Contact, InboundRequest
from leads.models.reference import Source
from revops import display


class IntakeKey(models.Model):
    """A secret key that lets a system (site backend, telephony, chat) send leads
    of one source. Only its SHA-256 is stored; the key is shown once."""

    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.CASCADE, related_name="intake_keys"
    )
    name = models.CharField(
        _("name"), max_length=120, blank=True, help_text=_("Who uses it, e.g. “site backend”.")
    )
    prefix = models.CharField(_("key starts with"), max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        _("requests per minute"), null=True, blank=True, default=120, help_text=_("Empty: unlimited.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("intake key")
        verbose_name_plural = _("intake keys")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.source} · {self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def mark_used(self, at):
        # At most one write a minute per key: the column is for people, not audit.
        if self.last_used_at is None or (at - self.last_used_at).total_seconds() > 60:
            IntakeKey.objects.filter(pk=self.pk).update(last_used_at=at)
            # The instance may be the reference cache's: its copy of the time
            # only throttles these writes (a race costs one extra UPDATE).
            self.last_used_at = at


class SiteForm(models.Model):
    """A lead form embedded on a site. Its public id is safe to publish: it only
    works from the allowed origins, never gives access to anything else."""

    public_id = models.SlugField(_("public id"), max_length=40, unique=True)
    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.CASCADE, related_name="site_forms"
    )
    name = models.CharField(_("name"), max_length=120)
    allowed_origins = models.TextField(
        _("allowed origins"), help_text=_("One per line, e.g. https://www.example.ru"), blank=True
    )
    consent_text = models.TextField(_("consent text"), blank=True)
    consent_version = models.CharField(_("consent text version"), max_length=50, default="1")
    # The separate, unticked checkbox for advertising (38-FZ art. 18); empty text: the default wording.
    marketing_consent_text = models.TextField(_("advertising consent text"), blank=True)
    marketing_consent_version = models.CharField(
        _("advertising consent text version"), max_length=50, default="1"
    )
    rate_limit_per_minute = models.PositiveIntegerField(_("requests per minute per IP"), default=10)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("site form")
        verbose_name_plural = _("site forms")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def origins(self) -> set[str]:
        return {
            line.strip().rstrip("/").lower() for line in self.allowed_origins.splitlines() if line.strip()
        }


class IdempotencyRecord(models.Model):
    """The first answer to a request with an Idempotency-Key, replayed on retries.
    Unique per source and key in the database, so two racing retries cannot both
    create a lead."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="idempotency_unique_key")]

    def __str__(self):
        return f"{self.source_id}:{self.key} → {self.status_code}"


class Consent(models.Model):
    """Consent to personal-data processing, recorded apart from the lead: which
    text (version) the person agreed to, when and from which address."""

    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="consents"
    )
    request = models.OneToOneField(
        InboundRequest, verbose_name=_("request"), on_delete=models.CASCADE, related_name="consent"
    )
    text_version = models.CharField(_("consent text version"), max_length=100, blank=True)
    given_at = models.DateTimeField(_("given"), default=timezone.now)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-given_at"]

    def __str__(self):
        return f"{self.contact} {display.day(timezone.localdate(self.given_at))}"
