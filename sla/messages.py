"""What a notification says, in its reader's language. Rows keep codes and
parameters; the words are made when the row is shown or sent."""

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from sla.models import NotificationKind

TITLES = {
    NotificationKind.NEW_LEAD: lambda p: _("New lead #%(lead)s from %(source)s") % p,
    NotificationKind.REPEAT_REQUEST: lambda p: _("Repeat request on lead #%(lead)s (%(source)s)") % p,
    NotificationKind.ASSIGNED: lambda p: _("Lead #%(lead)s is now yours") % p,
    NotificationKind.SLA_REMINDER: lambda p: _("Lead #%(lead)s: first contact is due soon") % p,
    NotificationKind.SLA_BREACH: lambda p: _("Lead #%(lead)s missed its SLA deadline") % p,
    NotificationKind.SLA_ESCALATION: lambda p: _("Escalation: lead #%(lead)s is still overdue") % p,
    NotificationKind.NURTURED: lambda p: (
        _("Lead #%(lead)s went to nurture after %(attempts)s unanswered calls") % p
    ),
    NotificationKind.RETURNED: lambda p: _("Lead #%(lead)s is back from nurture") % p,
    NotificationKind.DISPUTE_OPENED: lambda p: _("Marketing disputes the rejection of lead #%(lead)s") % p,
    NotificationKind.DISPUTE_REMINDER: lambda p: (
        _("Lead #%(lead)s: the disputed rejection is due for a decision soon") % p
    ),
    NotificationKind.DISPUTE_ESCALATION: lambda p: (
        _("Escalation: the disputed rejection of lead #%(lead)s is past its deadline") % p
    ),
    NotificationKind.DISPUTE_DECIDED: lambda p: (
        _("Lead #%(lead)s: the rejection was overturned, the lead is back in sales") % p
        if p.get("outcome") == "overturned"
        else _("Lead #%(lead)s: the rejection was upheld") % p
    ),
    NotificationKind.FEEDBACK_REPLY: lambda p: _("Marketing replied to your feedback on lead #%(lead)s") % p,
    NotificationKind.TRACK_TASK: lambda p: _("Lead #%(lead)s: a task from its nurture track") % p,
}


def title(notification, language: str | None = None) -> str:
    with translation.override(language or translation.get_language()):
        render = TITLES.get(notification.kind)
        params = {
            "lead": notification.lead_id or "—",
            "source": "",
            "attempts": "",
            **(notification.params or {}),
        }
        try:
            return str(render(params)) if render else notification.get_kind_display()
        except (KeyError, ValueError, TypeError):
            return str(notification.get_kind_display())


def link(notification) -> str:
    return reverse("leads:detail", args=[notification.lead_id]) if notification.lead_id else reverse("home")
