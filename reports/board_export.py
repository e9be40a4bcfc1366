"""The head's board's breach list as CSV (`/team/breaches.csv`): the rows the
board lists for the same team, period and rep, without the board's cap. No
contact details (names, phones): the lead's number leads back to the card."""

from django.contrib.auth.decorators import login_required
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from leads.board import PERIODS, board_filters, board_team, breach_rows, period_start
from reports.exports import Text, csv_download
from sla.calendars import schedule_or_24x7, team_calendar

# More rows than any team's open breaches; a bound so one request stays bounded.
MAX_ROWS = 20_000


def _when(moment, tz) -> Text | None:
    return Text(f"{moment.astimezone(tz):%Y-%m-%d %H:%M}") if moment else None


def _person(user) -> Text | None:
    return Text(str(user)) if user else None


@login_required
@require_GET
def breaches_csv(request):
    team = board_team(request.user, request.GET.get("team", ""))
    period, rep = board_filters(request.GET, team)
    now = timezone.now()
    tz = schedule_or_24x7(team_calendar(team)).tz
    breaches = breach_rows(team, since=period_start(period, now, tz), rep=rep, limit=MAX_ROWS)
    header = [
        Text(_("Lead")),
        Text(_("Kind")),
        Text(_("Whose delay")),
        Text(_("Owner at the deadline")),
        Text(_("Owner now")),
        Text(_("Was due")),
        Text(_("Breached")),
        Text(_("Acknowledged")),
        Text(_("Acknowledged by")),
        Text(_("Since the breach")),
        Text(_("Comment")),
    ]
    rows = [
        [
            breach.lead_id,
            Text(breach.get_kind_display()),
            Text(breach.get_delay_owner_display()),
            _person(breach.owner),
            _person(breach.lead.owner),
            _when(breach.due_at, tz),
            _when(breach.created_at, tz),
            _when(breach.acknowledged_at, tz),
            _person(breach.acknowledged_by),
            Text(str(breach.since_label)),
            Text(breach.comment),
        ]
        for breach in breaches
    ]
    name = f"breaches-{team.code}-{period if period in PERIODS else ''}-{now.astimezone(tz):%Y-%m-%d}"
    return csv_download(header, rows, name)
