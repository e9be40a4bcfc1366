"""How a clock looks to a person: one badge per lead with the most urgent
promise, in two units ("12 min", "1 h 05 min"), amber when at risk, red with
"missed 7 min ago" when late, and the reason when the clock is paused."""

import datetime as dt
from dataclasses import dataclass

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from sla.business_time import is_working, next_working_moment, windows, working_time_between
from sla.calendars import schedule_or_24x7
from sla.models import SlaTimer, TimerKind, TimerState

AT_RISK_SHARE = 1 / 3


# A badge runs on for this long in the browser when nothing stops its clock (callbacks
# count clock time; a day is more than anyone keeps a page open without an update).
NO_STOP_SECONDS = 24 * 3600


def clock_texts() -> dict[str, str]:
    """The badge's words, also handed to the browser (static/js/app.js counts a
    badge down between page updates with the same formats)."""
    return {
        "under_minute": _("<1 min"),
        "days": _("%(d)s d %(h)s h"),
        "hours": _("%(h)s h %(m)02d min"),
        "minutes": _("%(m)s min"),
        "left": _("%(t)s left"),
        "missed": _("missed %(t)s ago"),
    }


def human_duration(delta: dt.timedelta) -> str:
    texts = clock_texts()
    minutes = int(abs(delta.total_seconds()) // 60)
    if minutes == 0:
        return texts["under_minute"]
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return texts["days"] % {"d": days, "h": hours}
    if hours:
        return texts["hours"] % {"h": hours, "m": minutes}
    return texts["minutes"] % {"m": minutes}


@dataclass
class Badge:
    state: str  # overdue | at_risk | ok | paused | met | none
    text: str
    title: str = ""
    sort_key: float = 0.0  # seconds of working time left (negative when late)
    # For the live countdown in the browser: the clock runs for `runs_for` seconds from
    # now without a stop (then `paused_text` shows, if any); `budget` gives the at-risk line.
    runs_for: int = 0
    budget: int = 0
    paused_text: str = ""

    @property
    def css(self) -> str:
        return f"sla-{self.state}"

    @property
    def left_seconds(self) -> int:
        return int(self.sort_key)


NO_BADGE = Badge("none", "—", sort_key=float("inf"))


def badge_for(timers: list[SlaTimer], now: dt.datetime) -> Badge:
    """The badge of the most urgent clock still asking for action (running, or
    breached and not yet handled)."""
    candidates = sorted(
        (
            t
            for t in timers
            if t.state == TimerState.RUNNING or (t.state == TimerState.BREACHED and t.met_at is None)
        ),
        key=lambda t: t.due_at,
    )
    if not candidates:
        met = next(
            (t for t in timers if t.kind == TimerKind.FIRST_CONTACT and t.state == TimerState.MET), None
        )
        if met is not None:
            return Badge("met", _("contacted"), sort_key=float("inf"))
        return NO_BADGE
    timer = candidates[0]
    schedule = schedule_or_24x7(timer.calendar)
    first_contact = timer.kind == TimerKind.FIRST_CONTACT
    label = _("call back") if timer.kind == TimerKind.CALLBACK else _("first contact")
    due_local = timezone.localtime(timer.due_at)
    how = _("%(what)s due %(when)s (%(budget)s of working time from arrival)") % {
        "what": label,
        "when": formats.date_format(due_local, "SHORT_DATETIME_FORMAT"),
        "budget": human_duration(dt.timedelta(seconds=timer.budget_seconds)),
    }
    if timer.due_at <= now:
        late_by = (
            working_time_between(schedule, timer.due_at, now)
            if timer.kind == TimerKind.FIRST_CONTACT
            else now - timer.due_at
        )
        return Badge(
            "overdue",
            clock_texts()["missed"] % {"t": human_duration(late_by)},
            how,
            -late_by.total_seconds(),
            runs_for=_runs_for(schedule, now) if first_contact else NO_STOP_SECONDS,
            budget=timer.budget_seconds,
        )
    left = (
        working_time_between(schedule, now, timer.due_at)
        if timer.kind == TimerKind.FIRST_CONTACT
        else timer.due_at - now
    )
    if timer.kind == TimerKind.FIRST_CONTACT and not is_working(schedule, now):
        starts = timezone.localtime(next_working_moment(schedule, now))
        text = _("%(t)s left · paused until %(when)s") % {
            "t": human_duration(left),
            "when": formats.date_format(starts, "D H:i"),
        }
        return Badge("paused", text, _("Outside working hours. ") + how, left.total_seconds())
    at_risk = left.total_seconds() <= timer.budget_seconds * AT_RISK_SHARE
    runs_for, paused_text = NO_STOP_SECONDS, ""
    if first_contact:
        runs_for = _runs_for(schedule, now)
        if runs_for < left.total_seconds():  # the working day ends before the deadline
            stops = now + dt.timedelta(seconds=runs_for)
            paused_text = _("%(t)s left · paused until %(when)s") % {
                "t": human_duration(left - dt.timedelta(seconds=runs_for)),
                "when": formats.date_format(
                    timezone.localtime(next_working_moment(schedule, stops)), "D H:i"
                ),
            }
    return Badge(
        "at_risk" if at_risk else "ok",
        clock_texts()["left"] % {"t": human_duration(left)},
        how,
        left.total_seconds(),
        runs_for=runs_for,
        budget=timer.budget_seconds,
        paused_text=paused_text,
    )


def _runs_for(schedule, now: dt.datetime) -> int:
    """Seconds of working time from `now` before the first stop (windows that touch,
    such as midnight on a 24/7 calendar, run on); 0 outside working hours."""
    end = now
    horizon = now + dt.timedelta(seconds=NO_STOP_SECONDS)
    for start, stop in windows(schedule, now, horizon):
        if start > end:
            break
        end = stop
    return int((end - now).total_seconds())
