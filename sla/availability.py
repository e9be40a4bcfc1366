"""Is a rep working right now? The team's calendar (hours, holidays, closures),
the rep's own weekly shifts and absences decide it."""

import datetime as dt
from dataclasses import dataclass

from sla.business_time import Schedule, is_working

MIDNIGHT = dt.time(0, 0)


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str = ""  # a reason code of leads.assignment.REASON_TEXTS when not available


def _covers(starts: dt.time, ends: dt.time, moment: dt.time) -> bool:
    # An end of 00:00 means midnight at the end of the day.
    return starts <= moment and (ends == MIDNIGHT or moment < ends)


def _shift_weekday(schedule: Schedule, local: dt.datetime, shifts) -> int:
    """The weekday whose shifts apply. A weekend day the calendar opens (a
    transferred working Saturday) is worked like a regular weekday — the rep's
    first weekday with shifts — unless the rep has shifts on that weekend day."""
    weekday = local.weekday()
    if weekday >= 5 and schedule.override_on(local.date()) and not any(s.weekday == weekday for s in shifts):
        return min((s.weekday for s in shifts if s.weekday < 5), default=weekday)
    return weekday


def availability(user, schedule: Schedule, at: dt.datetime) -> Availability:
    """Whether `user` works at `at` under the team's `schedule` (see
    sla.calendars.team_calendar). Reads `user.shifts.all()` and
    `user.absences.all()`, so callers checking many reps prefetch them."""
    local = at.astimezone(schedule.tz)
    if any(a.starts_on <= local.date() <= a.ends_on for a in user.absences.all()):
        return Availability(False, "absent")
    if not is_working(schedule, at):
        return Availability(False, "calendar_closed")
    shifts = list(user.shifts.all())
    # A rep without any shifts configured works the calendar's hours.
    weekday = _shift_weekday(schedule, local, shifts)
    if shifts and not any(s.weekday == weekday and _covers(s.starts, s.ends, local.time()) for s in shifts):
        return Availability(False, "off_shift")
    return Availability(True)
