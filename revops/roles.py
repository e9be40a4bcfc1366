"""Roles: who a person is in the company, and what that lets them see.

A user's `role` is the one source of truth. Each role also has a Django group
(kept in step by `User.save`) carrying the model permissions the admin checks;
row-level visibility (a rep sees own leads, a head the team's) is decided by
the querysets in each app from the role, because Django's permissions are
per model, not per row.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    REP = "rep", _("Sales rep")
    SALES_HEAD = "sales_head", _("Head of sales")
    MARKETER = "marketer", _("Marketer")
    MARKETING_HEAD = "marketing_head", _("Head of marketing")
    EXECUTIVE = "executive", _("Executive")
    ADMIN = "admin", _("Administrator")


# Roles that read every lead of the company (marketing analyses all sources,
# executives and admins see everything).
COMPANY_WIDE_ROLES = frozenset({Role.MARKETER, Role.MARKETING_HEAD, Role.EXECUTIVE, Role.ADMIN})
MARKETING_ROLES = frozenset({Role.MARKETER, Role.MARKETING_HEAD})
SALES_ROLES = frozenset({Role.REP, Role.SALES_HEAD})

# Model permissions per role, as "app_label.codename". Only what the role may
# do in the admin or through model-level checks; row-level rules live in the
# querysets. Staff access to the admin is given to heads and admins only.
_VIEW_FUNNEL_REFERENCE = [
    "leads.view_source",
    "leads.view_campaign",
    "leads.view_product",
    "leads.view_segment",
    "leads.view_stage",
    "leads.view_rejectionreason",
    "leads.view_qualificationcriterion",
    "leads.view_definitionversion",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.REP: [*_VIEW_FUNNEL_REFERENCE, "leads.view_lead", "leads.change_lead", "leads.view_contact"],
    Role.SALES_HEAD: [
        *_VIEW_FUNNEL_REFERENCE,
        "leads.view_lead",
        "leads.change_lead",
        "leads.view_contact",
        "leads.change_contact",
        "leads.view_contactattempt",
        "leads.view_deal",
        "leads.view_stagechange",
        "leads.change_rejectionreason",
        "leads.change_qualificationcriterion",
        "leads.add_qualificationcriterion",
        "revops.view_user",
        "revops.view_team",
    ],
    Role.MARKETER: [
        *_VIEW_FUNNEL_REFERENCE,
        "leads.view_lead",
        "leads.view_deal",
        "leads.view_spend",
        "leads.add_spend",
        "leads.change_spend",
        "leads.add_campaign",
        "leads.change_campaign",
    ],
    Role.MARKETING_HEAD: [
        *_VIEW_FUNNEL_REFERENCE,
        "leads.view_lead",
        "leads.view_deal",
        "leads.view_spend",
        "leads.add_spend",
        "leads.change_spend",
        "leads.delete_spend",
        "leads.add_source",
        "leads.change_source",
        "leads.add_campaign",
        "leads.change_campaign",
        "leads.add_segment",
        "leads.change_segment",
        "leads.change_qualificationcriterion",
        "leads.add_qualificationcriterion",
        "leads.change_rejectionreason",
        "revops.view_team",
    ],
    Role.EXECUTIVE: [
        *_VIEW_FUNNEL_REFERENCE,
        "leads.view_lead",
        "leads.view_deal",
        "leads.view_spend",
        "revops.view_user",
        "revops.view_team",
    ],
    # Administrators are superusers; the group exists so the role is visible.
    Role.ADMIN: [],
}

STAFF_ROLES = frozenset({Role.SALES_HEAD, Role.MARKETING_HEAD, Role.ADMIN})


class RowVisibilityQuerySet(models.QuerySet):
    """Row-level visibility shared by every table of the funnel's rows (leads,
    breaches): a rep sees rows they own, a head of sales the team's rows,
    marketing, executives and admins all rows, anyone else none."""

    owner_field = "owner_id"
    team_field = "team_id"

    def visible_to(self, user):
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.sees_all_leads:
            return self
        if user.role == Role.SALES_HEAD and user.team_id is not None:
            return self.filter(**{self.team_field: user.team_id})
        if user.role == Role.REP:
            return self.filter(**{self.owner_field: user.pk})
        return self.none()
