"""Admin pages that span apps. The people's page is revops' model with an
action of leads (hand a leaving rep's open leads to the team), so it is
registered here, above both."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from leads.assignment import redistribute_open_leads
from revops.admin_scope import ScopedAdminMixin
from revops.models import Absence, Shift, User
from revops.roles import Role

# The admin is titled for revops, in the reader's language (not "Django administration").
admin.site.site_header = _("revops administration")
admin.site.site_title = "revops"
admin.site.index_title = _("Reference data and settings")


class ShiftInline(admin.TabularInline):
    model = Shift
    extra = 0


class AbsenceInline(admin.TabularInline):
    model = Absence
    extra = 0


@admin.register(User)
class UserAdmin(ScopedAdminMixin, BaseUserAdmin):
    # People are managed here (permissions as the role gives them); who is listed
    # follows the app: a head of sales sees the team, company-wide roles everyone.
    written_by_actions = False
    list_display = ["username", "first_name", "last_name", "role", "team", "is_active"]
    list_filter = ["role", "team", "is_active"]
    list_select_related = ["team"]
    inlines = [ShiftInline, AbsenceInline]
    actions = ["redistribute"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Work"), {"fields": ("role", "team", "phone", "language")}),
        (_("Distribution"), {"fields": ("accepts_leads", "lead_weight", "daily_lead_cap")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("Work"), {"fields": ("role", "team", "first_name", "last_name", "email")}),
    )

    def scope(self, queryset, user):
        if user.sees_all_leads:
            return queryset
        if user.role == Role.SALES_HEAD and user.team_id is not None:
            return queryset.filter(Q(team_id=user.team_id) | Q(pk=user.pk))
        return queryset.filter(pk=user.pk)

    @admin.action(
        description=_("Hand their open leads to the team (a rep is leaving)"), permissions=["change"]
    )
    def redistribute(self, request, queryset):
        moved = 0
        for rep in queryset.filter(role=Role.REP):
            moved += redistribute_open_leads(rep, request.user)
        self.message_user(
            request,
            ngettext("%(n)s open lead redistributed.", "%(n)s open leads redistributed.", moved)
            % {"n": moved},
        )
