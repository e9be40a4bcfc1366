from django.contrib import admin
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from revops.admin_scope import ScopedAdminMixin, visible_leads
from sla.business_time import next_windows
from sla.calendars import schedule_for
from sla.models import (
    Breach,
    BusinessCalendar,
    CalendarException,
    Notification,
    SlaPolicy,
    SlaTimer,
    TeamWebhook,
    WorkingHours,
)


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class CalendarExceptionInline(admin.TabularInline):
    model = CalendarException
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "timezone", "holiday_country"]
    search_fields = ["name", "code"]
    inlines = [WorkingHoursInline, CalendarExceptionInline]
    readonly_fields = ["preview"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            # New hours or exceptions move the deadlines of the clocks still running
            # on this calendar; finished ones keep their history.
            from sla.clock import recompute_running

            recompute_running(SlaTimer.objects.filter(calendar=form.instance))

    @admin.display(description=_("Next working windows"))
    def preview(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        schedule = schedule_for(obj)
        windows = next_windows(schedule, timezone.now(), 10)
        if not windows:
            return _("No working time in the next three years.")
        return format_html_join(
            "",
            "<div>{} – {}</div>",
            ((f"{start:%a %d.%m %H:%M}", f"{end:%H:%M}") for start, end in windows),
        )


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "is_default",
        "position",
        "first_contact_seconds",
        "failed_attempts_to_nurture",
        "reminder_percent",
        "escalate_after_seconds",
        "reassign_on_breach",
        "is_active",
    ]
    list_filter = ["is_active", "is_default"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            # Running clocks follow the new terms; finished ones keep their history.
            from sla.clock import recompute_running

            recompute_running(SlaTimer.objects.filter(policy=obj))


@admin.register(SlaTimer)
class SlaTimerAdmin(ScopedAdminMixin, admin.ModelAdmin):
    # Seen with the lead; timers are started, met and breached by the clock only.
    list_display = ["lead", "kind", "state", "started_at", "due_at", "met_at", "breached_at"]
    list_filter = ["kind", "state"]
    list_select_related = ["lead__contact"]
    raw_id_fields = ["lead", "attempt"]
    date_hierarchy = "due_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Breach)
class BreachAdmin(ScopedAdminMixin, admin.ModelAdmin):
    # Acknowledged and resolved through the app's actions (sla.actions), which record who did it.
    list_display = [
        "lead",
        "kind",
        "delay_owner",
        "owner",
        "team",
        "due_at",
        "created_at",
        "acknowledged_at",
        "resolved_at",
    ]
    list_filter = ["kind", "delay_owner", "team"]
    list_select_related = ["lead__contact", "owner", "team"]
    raw_id_fields = ["lead", "timer"]
    date_hierarchy = "created_at"

    def scope(self, queryset, user):
        # A breach is seen by its owner at the deadline and that team's head, as in the API.
        return queryset.visible_to(user)


@admin.register(Notification)
class NotificationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["kind", "channel", "recipient", "lead", "state", "attempts", "created_at", "delivered_at"]
    list_filter = ["channel", "kind", "state"]
    list_select_related = ["recipient"]
    raw_id_fields = ["lead", "recipient"]
    readonly_fields = ["last_error"]

    def scope(self, queryset, user):
        # One's own messages, and those about leads one may see.
        return queryset.filter(Q(recipient=user) | Q(lead__in=visible_leads(user)))


@admin.register(TeamWebhook)
class TeamWebhookAdmin(admin.ModelAdmin):
    list_display = ["team", "url", "is_active", "allow_private"]
    list_filter = ["team", "is_active"]
