"""Admin pages of revops' own models. The people's page (UserAdmin) is in
config/admin.py: its action hands a leaving rep's leads over, which is leads'."""

from django.contrib import admin

from revops.admin_scope import ScopedChoicesMixin
from revops.models import ApiToken, Team


@admin.register(Team)
class TeamAdmin(ScopedChoicesMixin, admin.ModelAdmin):
    list_display = ["name", "code", "kind", "head", "calendar", "distribution_mode", "daily_cap"]
    list_filter = ["kind"]
    search_fields = ["name", "code"]
    list_select_related = ["head"]
    autocomplete_fields = ["head"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Everyone's API tokens, for those the role allows (admins): look and
    revoke (delete); a token is issued only to its owner (API or own page)."""

    list_display = ["user", "name", "created_at", "expires_at", "last_used_at"]
    list_filter = ["expires_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name"]
    fields = ["user", "name", "created_at", "expires_at", "last_used_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
