import json

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leads.actions import EDITABLE_CONTACT_FIELDS, EDITABLE_LEAD_FIELDS
from leads.choices import (
    Answer,
    AttemptChannel,
    AttemptOutcome,
    Fit,
    IntakeChannel,
    NextStep,
    Priority,
    Qualification,
    StageKind,
)
from leads.contacts import normalize_email, normalize_phone
from leads.models import ContactAttempt, Lead, Product, Segment
from revops.api import StrictSerializer
from revops.inputs import BoundedDateSerializerField, BoundedDateTimeSerializerField
from revops.models import User


class LeadSlaSerializer(serializers.Serializer):
    """The lead's first-contact timer. A breached timer stays breached after a late contact."""

    state = serializers.ChoiceField(choices=["running", "met", "breached", "cancelled"])
    due_at = serializers.DateTimeField()
    first_contact_at = serializers.DateTimeField(allow_null=True)
    breached_at = serializers.DateTimeField(allow_null=True)


class LeadSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="contact.name", read_only=True)
    company = serializers.CharField(source="contact.company", read_only=True)
    phone = serializers.CharField(source="contact.phone", read_only=True)
    email = serializers.CharField(source="contact.email", read_only=True)
    product = serializers.CharField(source="product_code", read_only=True, help_text=_("Product code."))
    stage = serializers.SlugRelatedField(slug_field="code", read_only=True)
    furthest_stage = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status = serializers.ChoiceField(choices=StageKind.choices, read_only=True)
    qualification = serializers.ChoiceField(choices=Qualification.choices, read_only=True)
    rejection_reason = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    # Stored as typed by the site (may be empty), so not declared as a URI.
    landing_page = serializers.CharField(
        read_only=True, help_text=_("The page the request came from, or empty.")
    )
    next_step = serializers.ChoiceField(
        choices=NextStep.choices, allow_blank=True, read_only=True, help_text=_("Empty without a next step.")
    )
    sla = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = [
            "id",
            "name",
            "company",
            "phone",
            "email",
            "source",
            "campaign",
            "product",
            "segment",
            "fit",
            "owner",
            "team",
            "stage",
            "furthest_stage",
            "status",
            "qualification",
            "priority",
            "rejection_reason",
            "rejection_comment",
            "nurture_reason",
            "nurture_until",
            "returned_at",
            "channel",
            "comment",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_content",
            "utm_term",
            "landing_page",
            "is_returning",
            "created_at",
            "updated_at",
            "first_contact_at",
            "closed_at",
            "next_step",
            "next_step_at",
            "sla",
        ]
        read_only_fields = fields

    def to_representation(self, lead):
        data = super().to_representation(lead)
        if lead.closed_at is not None:  # kept on record for an undo; a closed lead has nothing next
            data["next_step"], data["next_step_at"] = "", None
        return data

    @extend_schema_field(LeadSlaSerializer(allow_null=True))
    def get_sla(self, lead):
        # Lists prefetch `first_contact_timers` (newest first); a single lead may not.
        timers = getattr(lead, "first_contact_timers", None)
        if timers is None:
            timers = list(lead.timers.filter(kind="first_contact").order_by("-started_at")[:1])
        if not timers:
            return None
        timer = timers[0]
        return LeadSlaSerializer(
            {
                "state": timer.state,
                "due_at": timer.due_at,
                "first_contact_at": lead.first_contact_at,
                "breached_at": timer.breached_at,
            }
        ).data


class LeadUpdateSerializer(serializers.Serializer):
    """PATCH of a lead: only descriptive fields; state changes have their own actions."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    segment = serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.all(), required=False, allow_null=True
    )
    fit = serializers.ChoiceField(choices=Fit.choices, required=False, allow_blank=True)
    product = serializers.SlugRelatedField(
        slug_field="code", queryset=Product.objects.filter(is_active=True), required=False, allow_null=True
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)

    _ACTION_FOR = {
        "owner": "assign",
        "team": "assign",
        "stage": "stage",
        "rejection_reason": "reject",
        "rejection_comment": "reject",
        "qualification": "checklist",
    }

    def validate(self, attrs):
        allowed = set(EDITABLE_LEAD_FIELDS) | set(EDITABLE_CONTACT_FIELDS)
        errors = {}
        for key in self.initial_data:
            if key in allowed:
                continue
            action = self._ACTION_FOR.get(key)
            if action:
                errors[key] = [_("Change this with POST …/%(action)s/.") % {"action": action}]
            else:
                errors[key] = [_("This field cannot be changed.")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class IntakeSerializer(serializers.Serializer):
    """The body of POST /api/v1/intake/ (and of the site form)."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    company = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    product = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    utm_source = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    utm_medium = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    utm_campaign = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    utm_content = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    utm_term = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    landing_page = serializers.URLField(max_length=2000, required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=IntakeChannel.choices, default=IntakeChannel.API)
    consent = serializers.BooleanField(
        required=True, help_text=_("Consent to personal-data processing; must be true.")
    )
    consent_text = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    marketing_consent = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_(
            "Separate consent to advertising by email (Federal Law 38-FZ, art. 18); nurture tracks "
            "email only people who gave it."
        ),
    )
    marketing_consent_text = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Version of the advertising consent text."),
    )
    client_ip = serializers.IPAddressField(required=False, allow_null=True, default=None)
    extra = serializers.DictField(required=False, default=dict)

    MAX_EXTRA_BYTES = 8192

    def __init__(self, *args, strict: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.strict = strict

    def validate_phone(self, value):
        return _django_to_drf(normalize_phone, value)

    def validate_email(self, value):
        return _django_to_drf(normalize_email, value)

    def validate_consent(self, value):
        if value is not True:
            raise serializers.ValidationError(_("Consent to personal-data processing is required."))
        return value

    def validate_extra(self, value):
        if len(json.dumps(value, ensure_ascii=False)) > self.MAX_EXTRA_BYTES:
            raise serializers.ValidationError(_("Too much extra data (at most 8 KB)."))
        return value

    def validate(self, attrs):
        errors = {}
        if self.strict and isinstance(self.initial_data, dict):
            for key in set(self.initial_data) - set(self.fields):
                errors[key] = [_("Unknown field; put additional data into “extra”.")]
        if not attrs.get("phone") and not attrs.get("email"):
            message = _("Give a phone number or an email address.")
            errors.setdefault("phone", []).append(message)
            errors.setdefault("email", []).append(message)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class IntakeResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The lead."))
    request_id = serializers.IntegerField(help_text=_("This request (every request is kept)."))
    repeat = serializers.BooleanField(help_text=_("True when the request joined the contact's open lead."))


def _django_to_drf(normalise, value):
    from django.core.exceptions import ValidationError as DjangoValidationError

    try:
        return normalise(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


# --- lead actions -------------------------------------------------------------------------------


class AttemptSerializer(StrictSerializer):
    channel = serializers.ChoiceField(choices=AttemptChannel.choices)
    outcome = serializers.ChoiceField(choices=AttemptOutcome.choices)
    duration_seconds = serializers.IntegerField(
        min_value=0, max_value=24 * 3600, required=False, allow_null=True
    )
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    callback_at = BoundedDateTimeSerializerField(required=False, allow_null=True)
    recording_url = serializers.URLField(max_length=1000, required=False, allow_blank=True, default="")


class AttemptResultSerializer(serializers.ModelSerializer):
    made_by = serializers.PrimaryKeyRelatedField(read_only=True)
    recording_url = serializers.CharField(
        read_only=True, help_text=_("A link to the call's recording, or empty.")
    )
    too_soon = serializers.SerializerMethodField(
        help_text=_("Recorded but not counted: too soon after the last call.")
    )
    failed_calls = serializers.SerializerMethodField(help_text=_("Counted failed calls so far."))
    limit = serializers.SerializerMethodField(help_text=_("Failed calls that send the lead to nurture."))
    lead_status = serializers.SerializerMethodField(help_text=_("The lead's status after this attempt."))

    def _info(self, key, default=None):
        return self.context.get("info", {}).get(key, default)

    def get_too_soon(self, attempt) -> bool:
        return bool(self._info("too_soon", False))

    def get_failed_calls(self, attempt) -> int:
        return int(self._info("failed_calls", 0))

    def get_limit(self, attempt) -> int:
        return int(self._info("limit", 0))

    def get_lead_status(self, attempt) -> str:
        return "nurture" if self._info("nurtured") else attempt.lead.stage.kind

    class Meta:
        model = ContactAttempt
        fields = [
            "id",
            "lead",
            "channel",
            "outcome",
            "duration_seconds",
            "note",
            "callback_at",
            "recording_url",
            "counted",
            "too_soon",
            "failed_calls",
            "limit",
            "lead_status",
            "made_by",
            "made_at",
        ]
        read_only_fields = fields


class AssignSerializer(StrictSerializer):
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))


class ChecklistSerializer(StrictSerializer):
    answers = serializers.DictField(
        child=serializers.ChoiceField(choices=Answer.choices),
        allow_empty=False,
        help_text=_("{criterion id: answer}"),
    )


class StageSerializer(StrictSerializer):
    stage = serializers.SlugField(max_length=50)
    meeting_at = BoundedDateTimeSerializerField(required=False, allow_null=True)
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    margin = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)


class RejectSerializer(StrictSerializer):
    reason = serializers.SlugField(max_length=50)
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class NurtureSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=300,
        allow_blank=True,
        help_text=_("Why, in the rep's words; may be empty when a listed reason (cause) is given."),
    )
    return_on = BoundedDateSerializerField(required=False, allow_null=True)
    cause = serializers.SlugField(
        max_length=50,
        required=False,
        allow_blank=True,
        default="",
        help_text=_(
            "Code of a listed nurture reason (no_answer, not_now, no_budget, researching, other…); default other."
        ),
    )


class ReturnSerializer(StrictSerializer):
    """Bringing a lead back from nurture by hand: an optional word on why."""

    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
