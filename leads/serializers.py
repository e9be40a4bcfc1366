from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leads.actions import EDITABLE_CONTACT_FIELDS, EDITABLE_LEAD_FIELDS
from leads.choices import Fit, Priority, Qualification, StageKind
from leads.models import Lead, Product, Segment


class LeadSlaSerializer(serializers.Serializer):
    """The lead's first-contact timer."""

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
    rejection_reason = serializers.SlugRelatedField(slug_field="code", read_only=True)
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
            "sla",
        ]
        read_only_fields = fields

    @extend_schema_field(LeadSlaSerializer(allow_null=True))
    def get_sla(self, lead):
        # Filled by the SLA clock once first-contact timers exist.
        return None


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
