"""Business-time arithmetic: working windows, deadlines and elapsed working time.

Pure and framework-free on purpose (no Django import): aware datetimes in, aware
datetimes out, so the SLA clock's heart can be unit-tested without a database. The
model that builds a :class:`Schedule` from the database lives elsewhere.

Conventions
-----------
* A :data:`Window` is a pair of *local wall-clock* times ``(start, end)``, half-open
  ``[start, end)``. ``end == dt.time(0, 0)`` means **24:00**, the end of the day
  (:data:`END_OF_DAY`); it is the only way a window can reach midnight, so a 24/7
  calendar is ``((dt.time(0, 0), dt.time(0, 0)),)`` on every weekday. A window never
  crosses midnight: night shifts are two windows on consecutive days (22:00–24:00
  and 00:00–06:00), and since they touch, working time flows through midnight.
* All arithmetic happens in UTC. Python's aware arithmetic within one tzinfo is
  wall-clock arithmetic (``09:00 + 10h`` on a DST day is still ``19:00``), which
  would make a 09:00–19:00 window 10 hours long even on a day that has 23 or 25
  hours. Converting every window boundary to a UTC instant first makes lengths real.
* Local wall times are turned into instants by one rule: *a wall time means the
  first real instant at which the local clock shows that time or later.* So
    - a time that never happens (spring-forward gap, e.g. 02:30 in Berlin on
      2026-03-29) maps to the instant the clocks jump (03:00 CEST): a window
      01:00–04:00 on that day is 2 real hours long, and a window lying wholly
      inside the gap is empty;
    - a time that happens twice (fall-back fold, e.g. 02:30 in Berlin on
      2026-10-25) means its first occurrence (CEST, ``fold=0``): a window
      01:00–04:00 on that day is 4 real hours long.
  The rule is monotonic, so windows stay ordered and non-overlapping in real time
  and consecutive days' windows never overlap.
* Every public function rejects naive datetimes (``ValueError``). Inputs may be in
  any zone; results are aware datetimes in ``schedule.tz``. Nothing reads the
  process's local time zone or the current time. Callers should convert results to
  UTC before comparing or subtracting them: two datetimes sharing a tzinfo compare
  by wall clock and ignore ``fold``, which is wrong inside a repeated hour.
* The algorithm jumps from window to window (per day, per window), never per second
  or minute; an unbounded search gives up with :class:`NoWorkingTime` after
  :data:`MAX_HORIZON_DAYS` days without any working time.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "END_OF_DAY",
    "MAX_HORIZON_DAYS",
    "NoWorkingTime",
    "Schedule",
    "Window",
    "add_working_time",
    "is_working",
    "next_windows",
    "next_working_moment",
    "windows",
    "working_time_between",
]

Window = tuple[dt.time, dt.time]
"""Local wall-clock ``[start, end)``; ``end == END_OF_DAY`` (00:00) means 24:00."""

END_OF_DAY = dt.time(0, 0)
"""As a window's *end*, 00:00 stands for 24:00 (midnight at the end of the day)."""

MAX_HORIZON_DAYS = 3 * 366
"""An unbounded search that finds no working time for this many days gives up."""

_UTC = dt.UTC
_ONE_DAY = dt.timedelta(days=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)


class NoWorkingTime(ValueError):
    """The schedule has no working time within MAX_HORIZON_DAYS after a moment."""


# --- the schedule ------------------------------------------------------------------


def _time_of_day(t: dt.time) -> dt.timedelta:
    return dt.timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


def _validate_windows(raw, where: str) -> tuple[Window, ...]:
    """Check one day's windows and return them as a normalised tuple."""
    try:
        items = tuple(raw)
    except TypeError:
        raise ValueError(f"{where}: windows must be a sequence of (start, end) pairs, got {raw!r}") from None
    result: list[Window] = []
    previous_end: dt.timedelta | None = None
    for window in items:
        if not (isinstance(window, tuple | list) and len(window) == 2):
            raise ValueError(f"{where}: a window must be a (start, end) pair, got {window!r}")
        start, end = window
        for t in (start, end):
            # datetime is not a subclass of time, but guard against look-alikes anyway.
            if not isinstance(t, dt.time):
                raise ValueError(f"{where}: window bounds must be datetime.time, got {t!r}")
            if t.tzinfo is not None:
                raise ValueError(f"{where}: window bounds are local wall-clock times, got aware {t!r}")
        # `fold` on a wall time would leak into datetime.combine(); our own rule decides
        # ambiguous times, so drop it.
        start, end = start.replace(fold=0), end.replace(fold=0)
        start_offset = _time_of_day(start)
        end_offset = _ONE_DAY if end == END_OF_DAY else _time_of_day(end)
        if start_offset >= end_offset:
            raise ValueError(
                f"{where}: window {start.isoformat()}–{end.isoformat()} must start before it ends "
                f"(use end 00:00 for 24:00)"
            )
        if previous_end is not None and start_offset < previous_end:
            raise ValueError(
                f"{where}: windows must be sorted and non-overlapping; {start.isoformat()} starts "
                f"before the previous window ends"
            )
        previous_end = end_offset
        result.append((start, end))
    return tuple(result)


@dataclass(frozen=True)
class Schedule:
    """A business calendar: a time zone, a weekly pattern and per-date overrides.

    ``weekly`` has 7 entries, index 0 = Monday, each a sorted tuple of non-overlapping
    windows (breaks are the gaps between them: 09:00–13:00, 14:00–19:00 is a lunch
    break 13–14). ``overrides`` maps a local date to the windows that replace the
    weekly pattern on that date: ``()`` closes the day (public holiday, transferred
    day off, closure); a transferred working Saturday is an override with windows.

    ``yearly`` (optional) loads the overrides of one whole year on demand:
    ``yearly(2031) -> {date: windows}``, asked the first time the arithmetic reaches a
    date of that year and kept for the schedule's life. It is how a production
    calendar (holidays, transfers, short days) covers whatever years a deadline
    needs without loading a fixed range up front. It must be a pure function of the
    year. ``overrides`` win over it on the dates they name.

    ``tz`` is meant to be a ``zoneinfo.ZoneInfo``; any ``tzinfo`` works.
    Inputs are validated and copied, so later changes to the caller's containers do
    not affect the schedule.
    """

    tz: dt.tzinfo
    weekly: tuple[tuple[Window, ...], ...]
    overrides: Mapping[dt.date, tuple[Window, ...]] = field(default_factory=dict)
    yearly: Callable[[int], Mapping[dt.date, tuple[Window, ...]]] | None = None
    # Validated `yearly` results by year; filled lazily (a dict set is atomic, and two
    # threads loading the same year store equal values).
    _years: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tz, dt.tzinfo):
            raise ValueError(f"tz must be a tzinfo (e.g. zoneinfo.ZoneInfo), got {self.tz!r}")
        try:
            weekly = tuple(self.weekly)
        except TypeError:
            raise ValueError(f"weekly must be a sequence of 7 days, got {self.weekly!r}") from None
        if len(weekly) != 7:
            raise ValueError(f"weekly must have 7 entries (Monday first), got {len(weekly)}")
        day_names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        weekly = tuple(
            _validate_windows(day, f"weekly[{i}] ({day_names[i]})") for i, day in enumerate(weekly)
        )
        if self.yearly is not None and not callable(self.yearly):
            raise ValueError(f"yearly must be a callable year -> overrides, got {self.yearly!r}")

        # Frozen dataclass: normalised values are set once, here.
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(
            self, "overrides", MappingProxyType(_validate_overrides(self.overrides, "override"))
        )

    def _year(self, year: int) -> Mapping[dt.date, tuple[Window, ...]]:
        loaded = self._years.get(year)
        if loaded is None:
            raw = self.yearly(year) if self.yearly is not None else {}
            loaded = MappingProxyType(_validate_overrides(raw, f"yearly({year})"))
            self._years[year] = loaded
        return loaded

    def override_on(self, day: dt.date) -> tuple[Window, ...] | None:
        """The windows replacing the weekly pattern on a local date, or None if none do."""
        found = self.overrides.get(day)
        if found is None and self.yearly is not None:
            found = self._year(day.year).get(day)
        return found

    def windows_on(self, day: dt.date) -> tuple[Window, ...]:
        """The wall-clock windows of a local date (its override, else its weekday)."""
        found = self.override_on(day)
        return self.weekly[day.weekday()] if found is None else found


def _validate_overrides(raw, where: str) -> dict[dt.date, tuple[Window, ...]]:
    overrides: dict[dt.date, tuple[Window, ...]] = {}
    for day, day_windows in dict(raw).items():
        # datetime *is* a date subclass; a datetime key would silently never match.
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise ValueError(f"{where} keys must be datetime.date, got {day!r}")
        overrides[day] = _validate_windows(day_windows, f"{where} {day.isoformat()}")
    return overrides


# --- wall clock <-> real instants --------------------------------------------------


def _require_aware(value: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ValueError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(_UTC)


def _wall(instant_utc: dt.datetime, tz: dt.tzinfo) -> tuple:
    """Local wall-clock reading of an instant, as a comparable tuple (no naive datetimes)."""
    local = instant_utc.astimezone(tz)
    return (local.date(), local.time())


def _instant(day: dt.date, t: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """The first real instant (UTC) at which the local clock shows ``day t`` or later."""
    local = dt.datetime.combine(day, t, tzinfo=tz)  # fold=0: the first occurrence if repeated
    utc = local.astimezone(_UTC)
    target = (day, t)
    if _wall(utc, tz) == target:
        return utc  # the wall time exists (once, or twice and we took the first)

    # The wall time falls in a gap. The two fold interpretations land on either side
    # of the transition; the instant we want is the transition itself, the first one
    # whose wall reading is >= target. Zone transitions are whole seconds, so a binary
    # search over seconds is exact (about 12 steps for a one-hour gap).
    other = local.replace(fold=1).astimezone(_UTC)
    low = math.floor((min(utc, other) - _EPOCH).total_seconds())
    high = math.ceil((max(utc, other) - _EPOCH).total_seconds())
    while low < high:
        middle = (low + high) // 2
        if _wall(_EPOCH + dt.timedelta(seconds=middle), tz) >= target:
            high = middle
        else:
            low = middle + 1
    return _EPOCH + dt.timedelta(seconds=low)


def _day_instants(schedule: Schedule, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """A local date's windows as UTC instant pairs; windows swallowed by a DST gap are dropped."""
    result = []
    for start, end in schedule.windows_on(day):
        start_utc = _instant(day, start, schedule.tz)
        if end == END_OF_DAY:
            end_utc = _instant(day + _ONE_DAY, END_OF_DAY, schedule.tz)
        else:
            end_utc = _instant(day, end, schedule.tz)
        if start_utc < end_utc:
            result.append((start_utc, end_utc))
    return result


def _utc_windows(
    schedule: Schedule, start: dt.datetime, end: dt.datetime | None
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """UTC windows overlapping [start, end), clipped, in order. start/end are UTC."""
    tz = schedule.tz
    # Start a day early: cheap insurance against odd zones where an instant's local
    # date is "behind" a window that already began (a fall-back across midnight).
    day = start.astimezone(tz).date() - _ONE_DAY
    last_day = None if end is None else end.astimezone(tz).date() + _ONE_DAY
    last_working_day = day
    while last_day is None or day <= last_day:
        for window_start, window_end in _day_instants(schedule, day):
            if window_end <= start:
                continue
            if end is not None and window_start >= end:
                return
            last_working_day = day
            yield max(window_start, start), (window_end if end is None else min(window_end, end))
        if last_day is None and (day - last_working_day).days > MAX_HORIZON_DAYS:
            raise NoWorkingTime(
                f"no working time within {MAX_HORIZON_DAYS} days after {last_working_day.isoformat()}"
            )
        day += _ONE_DAY


# --- public API --------------------------------------------------------------------


def is_working(schedule: Schedule, at: dt.datetime) -> bool:
    """True if ``at`` lies inside a working window (window starts count, ends do not)."""
    at_utc = _require_aware(at, "at")
    local_day = at_utc.astimezone(schedule.tz).date()
    # The neighbouring days cover windows that reach across midnight in odd zones.
    for day in (local_day - _ONE_DAY, local_day, local_day + _ONE_DAY):
        for window_start, window_end in _day_instants(schedule, day):
            if window_start <= at_utc < window_end:
                return True
    return False


def windows(
    schedule: Schedule, start: dt.datetime, end: dt.datetime | None = None
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Working windows overlapping ``[start, end)``, in order, clipped to start/end.

    With ``end=None`` the iterator is unbounded; it raises :class:`NoWorkingTime`
    (while iterating) once MAX_HORIZON_DAYS pass without any working time. Windows
    of consecutive days that touch (e.g. a 24/7 calendar) are yielded separately.
    Arguments are checked immediately, not on first iteration.
    """
    start_utc = _require_aware(start, "start")
    end_utc = None if end is None else _require_aware(end, "end")
    tz = schedule.tz

    def generate() -> Iterator[tuple[dt.datetime, dt.datetime]]:
        if end_utc is not None and end_utc <= start_utc:
            return
        for window_start, window_end in _utc_windows(schedule, start_utc, end_utc):
            yield window_start.astimezone(tz), window_end.astimezone(tz)

    return generate()


def next_windows(schedule: Schedule, at: dt.datetime, count: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """The next ``count`` windows from ``at`` (the current one clipped to ``at``), for previews.

    Returns fewer (possibly none) when the schedule has no more working time within
    MAX_HORIZON_DAYS, rather than raising: a preview should show "nothing", not fail.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    result: list[tuple[dt.datetime, dt.datetime]] = []
    iterator = windows(schedule, at)
    try:
        while len(result) < count:
            result.append(next(iterator))
    except NoWorkingTime:
        pass
    return result


def next_working_moment(schedule: Schedule, at: dt.datetime) -> dt.datetime:
    """``at`` itself if it is working time, else the start of the next window.

    Raises :class:`NoWorkingTime` if there is none within MAX_HORIZON_DAYS.
    """
    window_start, _ = next(windows(schedule, at))
    return window_start


def add_working_time(schedule: Schedule, start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
    """The moment ``amount`` of working time after ``start``.

    * Work counts from ``start`` if it is inside a window, else from the next opening;
      arriving exactly at closing time counts from the next opening.
    * A deadline that lands exactly on a closing time *is* that closing time (18:45 +
      15 min with close at 19:00 is 19:00 the same day, not 09:00 the next morning).
    * ``amount == 0`` returns :func:`next_working_moment` (``start`` if working, else the
      next opening), which keeps the result monotonic in ``amount``.
    * A negative amount raises ``ValueError``; no working time within the horizon
      raises :class:`NoWorkingTime`.
    """
    start_utc = _require_aware(start, "start")
    if not isinstance(amount, dt.timedelta):
        raise ValueError(f"amount must be a timedelta, got {amount!r}")
    if amount < dt.timedelta(0):
        raise ValueError(f"amount must not be negative, got {amount}")
    if not amount:
        return next_working_moment(schedule, start)

    remaining = amount
    for window_start, window_end in _utc_windows(schedule, start_utc, None):
        length = window_end - window_start
        if remaining <= length:
            return (window_start + remaining).astimezone(schedule.tz)
        remaining -= length
    raise AssertionError("unreachable: the unbounded window iterator ends only by raising")


def working_time_between(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Working time inside ``[start, end)``; zero if ``end <= start``."""
    start_utc = _require_aware(start, "start")
    end_utc = _require_aware(end, "end")
    total = dt.timedelta(0)
    if end_utc <= start_utc:
        return total
    for window_start, window_end in _utc_windows(schedule, start_utc, end_utc):
        total += window_end - window_start
    return total
