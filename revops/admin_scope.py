"""Row scope in the admin: everyone but superusers sees there only the rows the
app would show them, by the same `visible_to` rule the API uses.

Django's admin checks permissions per model, never per row: a head of sales
holding `view_contact` would read every contact, and a raw-id or autocomplete
field would accept any id the database has. `ScopedAdminMixin` narrows the
admin's queryset (changelist, change, history and delete pages, autocomplete)
for admins of rows that hold lead, contact or personal data, and
`ScopedChoicesMixin` narrows the choices of every foreign key to the rows the
related admin would show, so nobody can attach a row outside their scope.

Rows of the funnel (requests, attempts, stage changes, breaches…) are written
by the app's action functions, which also write their history; the admin shows
them but does not add them, and non-superusers neither change nor delete them.
"""

from django.apps import apps
from django.contrib.admin.exceptions import NotRegistered
from django.db import models


def visible_leads(user):
    """Ids of the leads `user` may see: the API's rule (`Lead.objects.visible_to`).
    Looked up through the app registry so that `revops` and `sla` need not import
    `leads`, which depends on them."""
    return apps.get_model("leads", "Lead").objects.visible_to(user).values("pk")


class ScopedChoicesMixin:
    """Foreign-key and many-to-many choices (select, raw id, autocomplete) of a
    non-superuser are the rows the related model's admin shows them; a posted id
    outside them is refused by the form as an invalid choice."""

    def _scoped_choices(self, db_field, request, kwargs):
        if request.user.is_superuser or "queryset" in kwargs:
            return
        try:
            related_admin = self.admin_site.get_model_admin(db_field.remote_field.model)
        except NotRegistered:
            return
        queryset = related_admin.get_queryset(request)
        ordering = related_admin.get_ordering(request)
        kwargs["queryset"] = queryset.order_by(*ordering) if ordering else queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ScopedAdminMixin(ScopedChoicesMixin):
    """For the admin of a model whose rows belong to leads (or people).

    `lead_path` is the lookup from a row to its lead ("" for the lead itself);
    override `scope()` where visibility follows another rule. With
    `written_by_actions` (the default) nobody adds rows here, and non-superusers
    neither delete them nor change them, except `staff_editable_fields` (given
    the model's change permission); the app's actions are the one place that
    writes these rows and their history."""

    lead_path = "lead"
    written_by_actions = True
    # Django 6 makes https the default scheme of typed URLs; take it now.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    staff_editable_fields: tuple[str, ...] = ()

    def scope(self, queryset, user):
        lookup = f"{self.lead_path}__in" if self.lead_path else "pk__in"
        return queryset.filter(**{lookup: visible_leads(user)})

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return self.scope(queryset, request.user)

    def _staff_locked(self, request) -> bool:
        return self.written_by_actions and not request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not self._staff_locked(request):
            return readonly
        opts = self.model._meta
        return readonly + [
            f.name
            for f in [*opts.fields, *opts.many_to_many]
            if f.editable and f.name not in self.staff_editable_fields and f.name not in readonly
        ]

    def has_add_permission(self, request, *args):
        if self.written_by_actions:
            return False
        return super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        if self._staff_locked(request) and not self.staff_editable_fields:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if self._staff_locked(request):
            return False
        return super().has_delete_permission(request, obj)


class HistoryInlineMixin:
    """An inline of history rows under their lead: shown, never added, changed or
    deleted here (the actions write them)."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
