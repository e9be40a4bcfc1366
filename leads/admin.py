from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads import definitions
from leads.actions import EDITABLE_LEAD_FIELDS, update_lead
from leads.intake_keys import create_key
from leads.models import (
    Assignment,
    Campaign,
    Consent,
    Contact,
    ContactAttempt,
    CriterionAnswer,
    Deal,
    DefinitionVersion,
    Feedback,
    ImportJob,
    InboundRequest,
    IntakeKey,
    Lead,
    LeadEvent,
    MarketingConsent,
    MarketingTask,
    Product,
    QualificationCriterion,
    RejectionReason,
    RoutingRule,
    Segment,
    SiteForm,
    Source,
    Spend,
    Stage,
    StageChange,
    TrackEmail,
    Unsubscribe,
)
from revops import refcache
from revops.admin_scope import HistoryInlineMixin, ScopedAdminMixin


class ScopedDataAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Rows of leads and people: scoped to what the user may see (revops.admin_scope)."""


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "code",
        "source",
        "utm_source",
        "utm_campaign",
        "starts_on",
        "ends_on",
        "is_active",
    ]
    list_filter = ["source", "is_active"]
    search_fields = ["name", "code", "utm_campaign"]
    list_select_related = ["source"]


@admin.register(Spend)
class SpendAdmin(admin.ModelAdmin):
    list_display = ["month", "source", "campaign", "amount", "currency"]
    list_filter = ["source", "month"]
    date_hierarchy = "month"
    list_select_related = ["source", "campaign"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]


class CriterionInline(admin.TabularInline):
    model = QualificationCriterion
    extra = 0
    fields = ["level", "code", "text_ru", "text_en", "position", "is_active"]


class DefinitionAdminMixin:
    """The checklist and the segments are agreed definitions: a change made
    here is a new version in the name of who made it (leads.definitions)."""

    def changeform_view(self, request, *args, **kwargs):
        with definitions.changed_by(request.user):
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):  # bulk actions and list edits
        with definitions.changed_by(request.user):
            return super().changelist_view(request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        with definitions.changed_by(request.user):
            return super().delete_view(request, *args, **kwargs)


@admin.register(DefinitionVersion)
class DefinitionVersionAdmin(admin.ModelAdmin):
    """Read-only: versions are written by the changes themselves."""

    list_display = ["kind", "number", "changed_at", "changed_by"]
    list_filter = ["kind"]
    list_select_related = ["changed_by"]
    readonly_fields = ["kind", "number", "changed_at", "changed_by", "snapshot", "changes"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Segment)
class SegmentAdmin(DefinitionAdminMixin, admin.ModelAdmin):
    list_display = ["name_ru", "name_en", "code", "fit", "company_size", "deal_cycle_days", "is_active"]
    list_filter = ["fit", "is_active"]
    search_fields = ["name_ru", "name_en", "code", "industry"]
    inlines = [CriterionInline]


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["code", "name_ru", "name_en", "kind", "position", "is_active"]
    list_filter = ["kind", "is_active"]

    def get_readonly_fields(self, request, obj=None):
        # Codes and types are what reports rely on; labels and definitions stay editable.
        return ["code", "kind"] if obj else []


@admin.register(RejectionReason)
class RejectionReasonAdmin(admin.ModelAdmin):
    list_display = ["code", "name_ru", "name_en", "side", "requires_comment", "position", "is_active"]
    list_filter = ["side", "is_active"]

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj else []


@admin.register(QualificationCriterion)
class QualificationCriterionAdmin(DefinitionAdminMixin, admin.ModelAdmin):
    list_display = ["text_ru", "level", "code", "segment", "position", "is_active"]
    list_filter = ["level", "segment", "is_active"]
    search_fields = ["text_ru", "text_en", "code"]
    list_select_related = ["segment"]


@admin.register(Contact)
class ContactAdmin(ScopedDataAdmin):
    """A contact is seen with one of its leads. Non-superusers only look: name and
    company change on the lead's card, which writes the edit into the history;
    phone and email are the person's identity (intake matches requests on them)."""

    list_display = ["name", "company", "phone", "email", "created_at"]
    search_fields = ["name", "company", "phone", "email"]
    date_hierarchy = "created_at"

    def scope(self, queryset, user):
        return queryset.filter(pk__in=Lead.objects.visible_to(user).values("contact_id"))


class RequestInline(HistoryInlineMixin, admin.TabularInline):
    model = InboundRequest
    fields = ["received_at", "source", "channel", "is_repeat", "comment"]
    readonly_fields = fields


class StageChangeInline(HistoryInlineMixin, admin.TabularInline):
    model = StageChange
    fields = ["changed_at", "from_stage", "to_stage", "changed_by", "note"]
    readonly_fields = fields


class AttemptInline(HistoryInlineMixin, admin.TabularInline):
    model = ContactAttempt
    fields = ["made_at", "channel", "outcome", "duration_seconds", "made_by", "note"]
    readonly_fields = fields


@admin.register(Lead)
class LeadAdmin(ScopedDataAdmin):
    lead_path = ""
    list_display = [
        "id",
        "contact",
        "source",
        "campaign",
        "stage",
        "qualification",
        "owner",
        "team",
        "created_at",
    ]
    list_filter = ["stage", "qualification", "source", "team", "channel", "priority", "fit", "segment"]
    search_fields = ["contact__name", "contact__company", "contact__phone", "contact__email"]
    date_hierarchy = "created_at"
    list_select_related = ["contact", "source", "campaign", "stage", "owner", "team"]
    raw_id_fields = ["contact", "campaign"]
    autocomplete_fields = ["owner"]
    # State (stage, owner, qualification, rejection) changes through the app's
    # actions so that history is written; the admin shows it read-only.
    readonly_fields = [
        "stage",
        "furthest_stage",
        "qualification",
        "rejection_reason",
        "rejection_comment",
        "owner",
        "team",
        "first_contact_at",
        "qualified_at",
        "stage_changed_at",
        "closed_at",
        "created_at",
        "updated_at",
    ]
    inlines = [RequestInline, StageChangeInline, AttemptInline]
    # For everyone but superusers, the rest (contact, source, channel, campaign,
    # UTM tags…) is the lead's identity or state owned by an action: read-only.
    staff_editable_fields = EDITABLE_LEAD_FIELDS

    def save_model(self, request, obj, form, change):
        """Edits go through leads.actions.update_lead, which writes the lead's
        history and moves its running clock, as the card's edit does. Only a
        superuser may change other fields here; they are saved as they are."""
        edits = {f: form.cleaned_data[f] for f in form.changed_data if f in EDITABLE_LEAD_FIELDS}
        others = [f for f in form.changed_data if f not in EDITABLE_LEAD_FIELDS]
        if others:
            obj.save(update_fields=[*others, "updated_at"])
        if edits:
            update_lead(obj, request.user, edits)


@admin.register(InboundRequest)
class InboundRequestAdmin(ScopedDataAdmin):
    list_display = ["id", "lead", "source", "channel", "is_repeat", "received_at"]
    list_filter = ["source", "channel", "is_repeat"]
    list_select_related = ["lead__contact", "source"]
    raw_id_fields = ["lead", "contact", "campaign"]
    date_hierarchy = "received_at"


@admin.register(StageChange)
class StageChangeAdmin(ScopedDataAdmin):
    list_display = ["lead", "from_stage", "to_stage", "changed_by", "changed_at"]
    list_filter = ["to_stage"]
    list_select_related = ["lead__contact", "from_stage", "to_stage", "changed_by"]
    raw_id_fields = ["lead"]


@admin.register(LeadEvent)
class LeadEventAdmin(ScopedDataAdmin):
    list_display = ["lead", "kind", "actor", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["lead__contact", "actor"]
    raw_id_fields = ["lead"]


@admin.register(CriterionAnswer)
class CriterionAnswerAdmin(ScopedDataAdmin):
    list_display = ["lead", "criterion", "answer", "answered_by", "answered_at"]
    list_filter = ["answer", "criterion__level"]
    list_select_related = ["lead__contact", "criterion", "answered_by"]
    raw_id_fields = ["lead"]


@admin.register(ContactAttempt)
class ContactAttemptAdmin(ScopedDataAdmin):
    list_display = ["lead", "channel", "outcome", "duration_seconds", "made_by", "made_at"]
    list_filter = ["channel", "outcome"]
    list_select_related = ["lead__contact", "made_by"]
    raw_id_fields = ["lead"]
    date_hierarchy = "made_at"


@admin.register(Deal)
class DealAdmin(ScopedDataAdmin):
    list_display = ["id", "contact", "amount", "margin", "currency", "status", "closed_on", "owner"]
    list_filter = ["status", "is_repeat_sale", "product"]
    list_select_related = ["contact", "owner"]
    raw_id_fields = ["lead", "contact"]
    date_hierarchy = "closed_on"
    search_fields = ["contact__name", "contact__company"]


@admin.register(IntakeKey)
class IntakeKeyAdmin(admin.ModelAdmin):
    """Keys are made here (or by `manage.py create_intake_key`); the secret is
    shown once, after saving, and only its hash is stored."""

    list_display = [
        "prefix",
        "source",
        "name",
        "rate_limit_per_minute",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["source"]
    fields = ["source", "name", "rate_limit_per_minute", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = create_key(
            obj.source,
            name=obj.name,
            created_by=request.user,
            rate_limit_per_minute=obj.rate_limit_per_minute,
        )
        obj.pk = key.pk
        messages.warning(
            request, _("The new key (copy it now, it is not shown again): %(key)s") % {"key": raw}
        )

    @admin.action(description=_("Revoke selected keys"))
    def revoke(self, request, queryset):
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        refcache.changed()  # an update() sends no signal; this process stops accepting them now


@admin.register(SiteForm)
class SiteFormAdmin(admin.ModelAdmin):
    list_display = ["name", "public_id", "source", "is_active"]
    list_filter = ["source", "is_active"]
    readonly_fields = ["embed_code"]

    @admin.display(description=_("Embed code"))
    def embed_code(self, obj):
        if obj is None or not obj.pk:
            return "—"
        return f'<iframe src="https://<this-server>/forms/{obj.public_id}/" style="width:100%;height:560px;border:0"></iframe>'


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["position", "team", "source", "segment", "product", "is_active"]
    list_editable = ["is_active"]
    list_select_related = ["team", "source", "segment", "product"]


@admin.register(Assignment)
class AssignmentAdmin(ScopedDataAdmin):
    list_display = ["lead", "kind", "from_owner", "to_owner", "assigned_by", "created_at"]
    list_filter = ["kind", "team"]
    list_select_related = ["lead__contact", "from_owner", "to_owner", "assigned_by"]
    raw_id_fields = ["lead"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Consent)
class ConsentAdmin(ScopedDataAdmin):
    lead_path = "request__lead"
    list_display = ["contact", "text_version", "given_at", "ip"]
    raw_id_fields = ["contact", "request"]
    date_hierarchy = "given_at"

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Superusers only: to see a stuck or failed import. The uploaded file (personal
    data) is not shown; jobs are created and run by the import pages and commands."""

    list_display = ["id", "kind", "filename", "created_by", "state", "total", "ok", "invalid", "created_at"]
    list_filter = ["kind", "state"]
    exclude = ["content", "claim"]
    list_select_related = ["created_by"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


# Issue #15: sales' feedback for marketing. Written and answered by leads/feedback.py.
@admin.register(Feedback)
class FeedbackAdmin(ScopedDataAdmin):
    list_display = ["lead", "topic", "author", "created_at", "state", "taken_by", "replied_at"]
    list_filter = ["topic", "state"]
    list_select_related = ["lead__contact", "author", "taken_by"]
    raw_id_fields = ["lead"]


# --- nurture tracks' records (issue #15, leads/tracks.py) ------------------------------------------
# Superusers only, read-only: the proof of a consent to advertising or an
# unsubscribe, and what a track sent. Marketing works with tracks on their pages.


class _SuperuserRecordAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MarketingConsent)
class MarketingConsentAdmin(_SuperuserRecordAdmin):
    list_display = ["id", "contact", "text_version", "given_at", "ip"]
    raw_id_fields = ["contact", "request"]
    list_select_related = ["contact"]
    date_hierarchy = "given_at"


@admin.register(Unsubscribe)
class UnsubscribeAdmin(_SuperuserRecordAdmin):
    list_display = ["id", "contact", "created_at"]
    raw_id_fields = ["contact"]
    list_select_related = ["contact"]


@admin.register(TrackEmail)
class TrackEmailAdmin(_SuperuserRecordAdmin):
    list_display = ["id", "lead", "subject", "state", "created_at", "sent_at", "attempts"]
    list_filter = ["state"]
    raw_id_fields = ["enrollment", "step", "lead", "contact"]


@admin.register(MarketingTask)
class MarketingTaskAdmin(_SuperuserRecordAdmin):
    list_display = ["id", "lead", "text", "created_at", "done_at", "done_by"]
    raw_id_fields = ["lead", "enrollment", "step", "done_by"]
    list_select_related = ["done_by"]
