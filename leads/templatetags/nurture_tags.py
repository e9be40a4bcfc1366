"""The tabs of marketing's nurture pages: who is in nurture, the tracks, the
tasks — one menu item ("Nurture") instead of three."""

from django import template
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from leads.nurture_page import can_read
from leads.track_views import may_edit, may_view

register = template.Library()


@register.inclusion_tag("leads/_nurture_tabs.html")
def nurture_tabs(user, current: str):
    tabs = []
    if can_read(user):
        tabs.append(("leads", _("In nurture"), reverse("nurture")))
    if may_view(user):
        tabs.append(("tracks", _("Tracks"), reverse("tracks:list")))
    if may_edit(user):
        tabs.append(("tasks", _("Marketing tasks"), reverse("tracks:tasks")))
    return {"tabs": tabs if len(tabs) > 1 else [], "current": current}
