from django import forms
from django.contrib import admin
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from revops.admin_scope import ScopedAdminMixin, visible_leads
from sla.calendars import calendar_preview
from sla.models import (
    Breach,
    BusinessCalendar,
    CalendarException,
    Notification,
    SlaPolicy,
    SlaTimer,
    TeamWebhook,
    WorkingHours,
    format_windows,
    parse_windows,
)


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class CalendarExceptionForm(forms.ModelForm):
    """A date with its working windows written on one line ("09:00–13:00, 14:00–17:00");
    empty means closed all day. The windows are stored as ExceptionWindow rows."""

    hours = forms.CharField(
        label=_("working hours"),
        required=False,
        max_length=200,
        help_text=_("For example 09:00–13:00, 14:00–17:00. Empty: closed all day. 24:00 is midnight."),
    )

    class Meta:
        model = CalendarException
        fields = ["date", "hours", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial.setdefault("hours", self.instance.hours_text())

    def clean_hours(self):
        self.windows = parse_windows(self.cleaned_data["hours"])
        return format_windows(self.windows)

    def _save_m2m(self):
        super()._save_m2m()
        self.instance.set_windows(self.windows)


class CalendarExceptionInline(admin.TabularInline):
    model = CalendarException
    form = CalendarExceptionForm
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "timezone", "holiday_country", "short_pre_holiday_days"]
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
        return render_to_string(
            "admin/sla/calendar_preview.html", {"days": calendar_preview(obj, timezone.now())}
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
