from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from leads.feedback import can_read_list
from revops.roles import Role


def uses_api(user) -> bool:
    """Who the API's menu item is for: administrators, who set up integrations,
    and anyone holding a live API token (an integration runs as them). Everyone
    else can still issue a token from "API tokens" and find the docs there."""
    if user.is_superuser or user.role == Role.ADMIN:
        return True
    from revops.models import ApiToken

    return ApiToken.objects.live().filter(user=user).exists()


def navigation(request):
    """The menu for the signed-in user's role: only what they may open."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "LANGUAGES": settings.LANGUAGES}
    items = []
    if user.role == Role.REP:
        items.append((_("My queue"), reverse("queue")))
    elif user.role == Role.SALES_HEAD:
        items.append((_("Team"), reverse("team")))
    else:
        items.append((_("Home"), reverse("home")))
    if user.sees_all_leads or user.role in (Role.REP, Role.SALES_HEAD):
        label = _("All my leads") if user.role == Role.REP else _("Leads")
        items.append((label, reverse("leads:list")))
    if user.can_work_leads:
        items.append((_("New lead"), reverse("leads:new")))
    if user.is_sales_head or user.sees_all_leads:
        items.append((_("SLA breaches"), reverse("breaches")))
    if user.role != Role.REP and user.role != Role.EXECUTIVE:
        # The executive's home is the dashboard already; heads and marketing open it here.
        items.append((_("Dashboard"), reverse("dashboard")))
    # Every role reads reports, each over the leads it may see.
    items.append((_("Reports"), reverse("reports")))
    if user.role in (Role.MARKETER, Role.MARKETING_HEAD, Role.EXECUTIVE, Role.ADMIN) or user.is_superuser:
        items.append((_("Spend"), reverse("spend:list")))
    if user.is_superuser or user.role in (
        Role.SALES_HEAD,
        Role.MARKETER,
        Role.MARKETING_HEAD,
        Role.EXECUTIVE,
        Role.ADMIN,
    ):
        # Who is in nurture and what their returns became (leads/nurture_page.py);
        # its tabs lead on to the tracks and marketing's tasks (leads/track_views.py).
        items.append((_("Nurture"), reverse("nurture")))
    if user.role in (Role.SALES_HEAD, Role.MARKETER, Role.MARKETING_HEAD, Role.ADMIN) or user.is_superuser:
        items.append((_("Import"), reverse("leads:import")))
    if user.sees_all_leads or user.role == Role.SALES_HEAD:
        # Issue #15: marketing disputes rejections, heads decide, executives watch.
        items.append((_("Disputes"), reverse("disputes:list")))
    if can_read_list(user):  # sales' feedback for marketing (issue #15)
        items.append((_("Feedback"), reverse("feedback:list")))
    if user.is_staff:
        items.append((_("Administration"), reverse("admin:index")))
    if uses_api(user):
        items.append((_("API"), reverse("api-docs")))
    return {"nav_items": items, "LANGUAGES": settings.LANGUAGES}
