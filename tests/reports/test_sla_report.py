"""The Speed and SLA report over a hand-made week, every figure worked out by hand.

The week is Monday 2026-04-13 … Sunday 2026-04-19 (Moscow, UTC+3 all year, no
holidays that week). Team A works on the default calendar (Mon–Fri 09–13, 14–18);
team B has its own calendar, every day 10:00–20:00.

lead  owner     team src  arrived          first contact       first-contact timers
L1    rep       A    ads  Mon 09:00        Mon 09:10 by rep    met (rep's attempt)
L2    rep       A    ads  Mon 12:50        Mon 14:20 by rep    breached, rep's delay (owner rep, team A)
L3    rep       A    seo  Tue 10:00        Tue 10:05 teammate  met (teammate's attempt)
L4    —         A    seo  Sat 11:00        Mon+1 09:30 by head breached, system (no owner, team B at the deadline)
L5    other_rep B    ads  Wed 21:00        Thu 10:10 other_rep met
L6    rep       A    ads  Thu 15:00        —                   breached, rep's delay; + a breached callback
L7    teammate  A    seo  Fri 17:50        —                   running
L10   other_rep B    seo  Tue 11:00        Tue 11:05 other_rep met, then (back from nurture) running
L8    rep       A    ads  Mon 10:00        Mon 10:02           met — but merged away as a duplicate: nowhere
L9    rep       A    ads  Fri 2026-04-10   …                   before the period: nowhere

Clock / working minutes to first contact: L1 10/10, L2 90/30 (lunch 13–14), L3 5/5,
L4 2790/30 (Sat 11:00 → Mon 09:30), L5 790/10 (on team B's calendar; 70 on the
default one), L10 5/5.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from leads.choices import AttemptChannel, AttemptOutcome
from leads.models import ContactAttempt, Lead, RejectionReason, Stage
from leads.report_keys import with_arrival_hour, with_arrival_weekday
from reports.base import get_report
from reports.params import parse_params
from reports.sla import WorkingClock, histogram, median, nearest_rank, working_minutes
from sla.calendars import schedule_for
from sla.models import Breach, BusinessCalendar, DelayOwner, SlaPolicy, SlaTimer, TimerKind, TimerState
from tests.factories import LeadFactory, SourceFactory

MSK = ZoneInfo("Europe/Moscow")
PERIOD = "date_from=2026-04-13&date_to=2026-04-19"


def msk(day, hour, minute=0, month=4):
    return dt.datetime(2026, month, day, hour, minute, tzinfo=MSK)


def _timer(lead, state, started, *, kind=TimerKind.FIRST_CONTACT, met_at=None, breached_at=None):
    return SlaTimer.objects.create(
        lead=lead,
        kind=kind,
        policy=SlaPolicy.objects.get(is_default=True),
        state=state,
        started_at=started,
        budget_seconds=900,
        due_at=breached_at or started + dt.timedelta(minutes=15),
        met_at=met_at,
        breached_at=breached_at,
    )


def _breach(timer, owner, team, delay):
    return Breach.objects.create(
        timer=timer,
        kind=timer.kind,
        lead=timer.lead,
        owner=owner,
        team=team,
        source=timer.lead.source,
        delay_owner=delay,
        due_at=timer.due_at,
        created_at=timer.due_at,
    )


def _attempt(lead, by, at, outcome=AttemptOutcome.REACHED, **extra):
    return ContactAttempt.objects.create(
        lead=lead, channel=AttemptChannel.CALL, outcome=outcome, made_by=by, made_at=at, **extra
    )


def _lead(owner, team, source, created, contact_at=None):
    return LeadFactory(owner=owner, team=team, source=source, created_at=created, first_contact_at=contact_at)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def week(rep, teammate, other_rep, head, other_head, team_a, team_b):
    assert str(MSK) == "Europe/Moscow"
    calendar_b = BusinessCalendar.objects.create(
        code="team-b", name="B", timezone="Europe/Moscow", holiday_country=""
    )
    for weekday in range(7):
        calendar_b.hours.create(weekday=weekday, opens=dt.time(10), closes=dt.time(20))
    team_b.calendar = calendar_b
    team_b.save()
    ads = SourceFactory(code="ads", name="Ads")
    seo = SourceFactory(code="seo", name="SEO")

    l1 = _lead(rep, team_a, ads, msk(13, 9), msk(13, 9, 10))
    _attempt(l1, rep, msk(13, 9, 10))
    _timer(l1, TimerState.MET, msk(13, 9), met_at=msk(13, 9, 10))

    l2 = _lead(rep, team_a, ads, msk(13, 12, 50), msk(13, 14, 20))
    _attempt(l2, rep, msk(13, 14, 20))
    t2 = _timer(l2, TimerState.BREACHED, msk(13, 12, 50), breached_at=msk(13, 14, 5), met_at=msk(13, 14, 20))
    _breach(t2, rep, team_a, DelayOwner.REP)

    l3 = _lead(rep, team_a, seo, msk(14, 10), msk(14, 10, 5))
    _attempt(l3, rep, msk(14, 9, 30), AttemptOutcome.NO_ANSWER)  # not the one that met it
    _attempt(l3, teammate, msk(14, 10, 5))
    _timer(l3, TimerState.MET, msk(14, 10), met_at=msk(14, 10, 5))

    l4 = _lead(None, team_a, seo, msk(18, 11), msk(20, 9, 30))
    _attempt(l4, head, msk(20, 9, 30))
    t4 = _timer(l4, TimerState.BREACHED, msk(18, 11), breached_at=msk(20, 9, 15), met_at=msk(20, 9, 30))
    _breach(t4, None, team_b, DelayOwner.SYSTEM)

    l5 = _lead(other_rep, team_b, ads, msk(15, 21), msk(16, 10, 10))
    _attempt(l5, other_rep, msk(16, 10, 10))
    _timer(l5, TimerState.MET, msk(15, 21), met_at=msk(16, 10, 10))

    l6 = _lead(rep, team_a, ads, msk(16, 15))
    t6 = _timer(l6, TimerState.BREACHED, msk(16, 15), breached_at=msk(16, 15, 15))
    _breach(t6, rep, team_a, DelayOwner.REP)
    agreed = _attempt(l6, rep, msk(16, 15, 5), AttemptOutcome.NO_ANSWER, callback_at=msk(16, 16))
    callback = _timer(
        l6, TimerState.BREACHED, msk(16, 15, 5), kind=TimerKind.CALLBACK, breached_at=msk(16, 16)
    )
    callback.attempt = agreed
    callback.save()
    _breach(callback, rep, team_a, DelayOwner.REP)

    l7 = _lead(teammate, team_a, seo, msk(17, 17, 50))
    _timer(l7, TimerState.RUNNING, msk(17, 17, 50))

    l10 = _lead(other_rep, team_b, seo, msk(14, 11), msk(14, 11, 5))
    _attempt(l10, other_rep, msk(14, 11, 5))
    _timer(l10, TimerState.MET, msk(14, 11), met_at=msk(14, 11, 5))
    _timer(l10, TimerState.RUNNING, msk(16, 12))

    l8 = _lead(rep, team_a, ads, msk(13, 10), msk(13, 10, 2))
    _attempt(l8, rep, msk(13, 10, 2))
    _timer(l8, TimerState.MET, msk(13, 10), met_at=msk(13, 10, 2))
    l8.stage = Stage.objects.get(code="lost")
    l8.rejection_reason = RejectionReason.objects.get(code="duplicate")
    l8.save()

    l9 = _lead(rep, team_a, ads, msk(10, 12), msk(10, 12, 30))
    _attempt(l9, rep, msk(10, 12, 30))
    _timer(l9, TimerState.MET, msk(10, 12), met_at=msk(10, 12, 30))
    t9 = _timer(l9, TimerState.BREACHED, msk(10, 12), kind=TimerKind.CALLBACK, breached_at=msk(10, 13))
    _breach(t9, rep, team_a, DelayOwner.REP)
    return {"ads": ads, "seo": seo, "calendar_b": calendar_b}


def compute(user, query=""):
    report = get_report("sla")
    params = parse_params(QueryDict(f"{PERIOD}&{query}"), user, report)
    return report.compute(params)


def by_key(result):
    return {row["key"]: row for row in result["rows"]}


def figures(row, *fields):
    return tuple(row[field] for field in fields)


COUNTS = ("leads", "timers", "met", "breached", "running", "met_pct")
BREACHES = ("breaches_system", "breaches_rep", "callback_breaches")
TIMES = (
    "first_contact_median_min",
    "first_contact_p90_min",
    "first_contact_median_work_min",
    "first_contact_p90_work_min",
)


def test_by_owner(week, ceo, rep, teammate, other_rep):
    result = compute(ceo, "by=owner")
    rows = by_key(result)
    assert set(rows) == {rep.pk, teammate.pk, other_rep.pk, None}
    assert result["rows"][-1]["key"] is None  # "unassigned" comes last
    # A breached timer goes with the breach's owner; a met one with the rep whose attempt met it.
    assert figures(rows[rep.pk], *COUNTS) == (4, 3, 1, 2, 0, "33.3")
    assert figures(rows[rep.pk], *BREACHES) == (0, 2, 1)
    assert figures(rows[rep.pk], *TIMES) == ("10.0", "90.0", "10.0", "30.0")
    assert figures(rows[teammate.pk], *COUNTS) == (1, 2, 1, 0, 1, "100.0")
    assert figures(rows[teammate.pk], *BREACHES) == (0, 0, 0)
    assert figures(rows[teammate.pk], *TIMES) == (None, None, None, None)
    assert figures(rows[other_rep.pk], *COUNTS) == (2, 3, 2, 0, 1, "100.0")
    assert figures(rows[other_rep.pk], *TIMES) == ("397.5", "790.0", "7.5", "10.0")
    assert figures(rows[None], *COUNTS) == (1, 1, 0, 1, 0, "0.0")
    assert figures(rows[None], *BREACHES) == (1, 0, 0)
    assert figures(rows[None], *TIMES) == ("2790.0", "2790.0", "30.0", "30.0")
    assert rows[None]["label"] == "unassigned"

    total = result["total"]
    assert figures(total, *COUNTS) == (8, 9, 4, 3, 2, "57.1")
    assert figures(total, *BREACHES) == (1, 2, 1)
    # Clock [5, 5, 10, 90, 790, 2790]: median (10 + 90) / 2, p90 the 6th; working [5, 5, 10, 10, 30, 30].
    assert figures(total, *TIMES) == ("50.0", "2790.0", "10.0", "30.0")
    assert result["by"] == "owner" and result["mode"] == "cohort"
    assert (result["date_from"], result["date_to"]) == ("2026-04-13", "2026-04-19")
    # Counts in total are the sums of the rows.
    for field in ("leads", "timers", "met", "breached", "running", *BREACHES):
        assert total[field] == sum(row[field] for row in result["rows"])


def test_by_team(week, marketer, team_a, team_b):
    result = compute(marketer, "by=team")
    rows = by_key(result)
    assert list(rows) == [team_a.pk, team_b.pk]
    # L4's breach was the system's delay while the lead sat with team B.
    assert figures(rows[team_a.pk], *COUNTS) == (6, 5, 2, 2, 1, "50.0")
    assert figures(rows[team_a.pk], *BREACHES) == (0, 2, 1)
    assert figures(rows[team_a.pk], *TIMES) == ("50.0", "2790.0", "20.0", "30.0")
    assert figures(rows[team_b.pk], *COUNTS) == (2, 4, 2, 1, 1, "66.7")
    assert figures(rows[team_b.pk], *BREACHES) == (1, 0, 0)
    assert figures(rows[team_b.pk], *TIMES) == ("397.5", "790.0", "7.5", "10.0")
    assert figures(result["total"], *COUNTS) == (8, 9, 4, 3, 2, "57.1")


def test_by_source(week, ceo):
    result = compute(ceo, "by=source")
    rows = by_key(result)
    ads, seo = week["ads"].pk, week["seo"].pk
    assert list(rows) == [ads, seo]
    assert rows[ads]["label"] == "Ads"
    assert figures(rows[ads], *COUNTS) == (4, 4, 2, 2, 0, "50.0")
    assert figures(rows[ads], *BREACHES) == (0, 2, 1)
    assert figures(rows[ads], *TIMES) == ("90.0", "790.0", "10.0", "30.0")
    assert figures(rows[seo], *COUNTS) == (4, 5, 2, 1, 2, "66.7")
    assert figures(rows[seo], *BREACHES) == (1, 0, 0)
    assert figures(rows[seo], *TIMES) == ("5.0", "2790.0", "5.0", "30.0")


def test_by_hour_and_weekday_of_arrival_in_company_zone(week, ceo):
    result = compute(ceo, "by=hour")
    rows = by_key(result)
    assert list(rows) == [9, 10, 11, 12, 15, 17, 21]
    assert rows[9]["label"] == "09:00"
    assert figures(rows[11], *COUNTS) == (2, 3, 1, 1, 1, "50.0")
    assert figures(rows[11], *TIMES) == ("1397.5", "2790.0", "17.5", "30.0")
    assert figures(rows[21], *COUNTS) == (1, 1, 1, 0, 0, "100.0")

    result = compute(ceo, "by=weekday")
    rows = by_key(result)
    assert list(rows) == [1, 2, 3, 4, 5, 6]
    assert rows[1]["label"] == "Monday"
    assert figures(rows[1], *COUNTS) == (2, 2, 1, 1, 0, "50.0")
    assert figures(rows[2], *COUNTS) == (2, 3, 2, 0, 1, "100.0")
    assert figures(rows[2], *TIMES) == ("5.0", "5.0", "5.0", "5.0")
    assert figures(rows[6], *BREACHES) == (1, 0, 0)
    assert figures(result["total"], *COUNTS) == (8, 9, 4, 3, 2, "57.1")


def test_histogram_of_time_to_first_contact(week, ceo):
    result = compute(ceo)
    assert result["histogram"][0]["label"] == "under 5 min"
    assert result["histogram"][1]["label"] == "5–15 min"
    assert result["histogram"][-1]["label"] == "1440 min or more"
    assert [{"upto": b["upto"], "leads": b["leads"]} for b in result["histogram"]] == [
        {"upto": 5, "leads": 0},
        {"upto": 15, "leads": 3},
        {"upto": 30, "leads": 0},
        {"upto": 60, "leads": 0},
        {"upto": 120, "leads": 1},
        {"upto": 240, "leads": 0},
        {"upto": 480, "leads": 0},
        {"upto": 1440, "leads": 1},
        {"upto": None, "leads": 1},
    ]


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        # The rep's own leads: L1, L2, L3, L6 (the teammate's attempt met L3's timer).
        ("rep", (4, 4, 2, 2, 0, "50.0")),
        ("teammate", (1, 1, 0, 0, 1, None)),
        ("head", (6, 6, 2, 3, 1, "40.0")),
        ("other_head", (2, 3, 2, 0, 1, "100.0")),
        ("marketer", (8, 9, 4, 3, 2, "57.1")),
        ("marketing_head", (8, 9, 4, 3, 2, "57.1")),
        ("ceo", (8, 9, 4, 3, 2, "57.1")),
        ("admin", (8, 9, 4, 3, 2, "57.1")),
    ],
)
def test_each_role_sees_its_slice(week, people, who, expected):
    assert figures(compute(people[who])["total"], *COUNTS) == expected


def test_working_minutes_use_the_leads_calendar(week):
    default = schedule_for(BusinessCalendar.objects.get(code="default"))
    team_b = schedule_for(week["calendar_b"])
    # L5: Wed 21:00 → Thu 10:10.
    assert working_minutes(team_b, msk(15, 21), msk(16, 10, 10)) == 10
    assert working_minutes(default, msk(15, 21), msk(16, 10, 10)) == 70
    # Friday evening → Monday over the lunch break; a week-long wait is counted window by window.
    assert working_minutes(default, msk(17, 17, 50), msk(20, 14, 30)) == 10 + 240 + 30
    assert working_minutes(default, msk(13, 9), msk(20, 9)) == 5 * 480


@pytest.mark.parametrize("zone", ["Europe/Moscow", "Europe/Berlin", "America/New_York"])
def test_the_reports_day_by_day_clock_equals_the_sla_arithmetic(db, zone):
    """WorkingClock (days memoised for the whole report) gives working_time_between's
    minutes: lunch breaks, weekends, Russian holidays (May 2026), DST changes."""
    import random

    from sla.business_time import Schedule, working_time_between
    from sla.calendars import around_the_clock

    tz = ZoneInfo(zone)
    day = ((dt.time(9), dt.time(13)), (dt.time(14), dt.time(18)))
    night = ((dt.time(0), dt.time(2)), (dt.time(22), dt.time(0)))
    schedules = [
        schedule_for(BusinessCalendar.objects.get(code="default")),
        Schedule(tz=tz, weekly=(day,) * 5 + ((), ())),
        Schedule(tz=tz, weekly=(night,) * 7),
        around_the_clock(),
    ]
    rng = random.Random(7)
    base = dt.datetime(2026, 3, 20, tzinfo=tz)  # across the spring DST change and May holidays
    for schedule in schedules:
        clock = WorkingClock(schedule)
        for _ in range(150):
            start = base + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 70))
            end = start + dt.timedelta(minutes=rng.choice([0, 1, 7, 95, 600, 2000, 9000, 30000]))
            expected = working_time_between(schedule, start, end).total_seconds() / 60
            assert float(clock.minutes(start, end)) == pytest.approx(expected), (start, end)


def test_median_and_nearest_rank():
    assert median([]) is None and nearest_rank([], 90) is None
    assert median([3, 1, 2]) == 2 and median([4, 1, 2, 3]) == 2.5
    assert nearest_rank([1], 90) == 1
    assert nearest_rank(list(range(1, 11)), 90) == 9
    assert nearest_rank(list(range(1, 12)), 90) == 10  # ceil(9.9) = 10th
    assert [b["leads"] for b in histogram([0, 4.9, 5, 1440, 10**6])] == [2, 1, 0, 0, 0, 0, 0, 0, 2]


@pytest.mark.parametrize("by", ["owner", "team", "source", "hour", "weekday"])
@pytest.mark.parametrize("who", ["ceo", "head", "rep"])
def test_lead_counts_drill_down_to_exactly_those_leads(week, people, api, by, who):
    """The lead list behind each row's `leads` (and the total's) has that many leads."""
    user = people[who]
    result = compute(user, f"by={by}")
    api.force_authenticate(user)
    for row in [*result["rows"], result["total"]]:
        link = row["links"]["leads"]
        assert link.startswith("/leads/?") and "step=leads" in link
        answer = api.get("/api/v1/leads/?" + link.split("?", 1)[1])
        assert answer.status_code == 200, answer.content
        assert answer.json()["count"] == row["leads"], (row.get("key"), link)


@pytest.mark.parametrize(("by", "narrow"), [("hour", with_arrival_hour), ("weekday", with_arrival_weekday)])
def test_hour_and_weekday_links_select_exactly_the_rows_leads(week, ceo, by, narrow):
    """The links name arrival_hour / arrival_weekday; leads.report_keys defines both the
    grouping and the filter (for the lead list's FilterSet), and they agree."""
    report = get_report("sla")
    params = parse_params(QueryDict(f"{PERIOD}&by={by}"), ceo, report)
    for row in report.compute(params)["rows"]:
        assert f"arrival_{by}={row['key']}" in row["links"]["leads"]
        leads = Lead.objects.visible_to(ceo).step("leads", "cohort", params.start, params.end)
        assert narrow(leads, row["key"]).count() == row["leads"]


@pytest.mark.parametrize(
    "query",
    [
        "by=stage",
        "by=month",
        "mode=events",
        "date_from=2026-13-01",
        "owner=abc",
        "team=999999",
        "date_to=2026-04-01",
    ],
)
def test_bad_parameters_are_refused(week, ceo, query):
    from rest_framework.exceptions import ValidationError

    report = get_report("sla")
    with pytest.raises(ValidationError):
        parse_params(QueryDict(f"{PERIOD}&{query}"), ceo, report)


def _more(n, rep, team, source):
    """n more leads, each with a met, a breached and a running timer and a callback breach."""
    for i in range(n):
        created = msk(13 + i % 5, 9 + i % 8, i % 50)
        lead = _lead(rep, team, source, created, created + dt.timedelta(minutes=7))
        _attempt(lead, rep, created + dt.timedelta(minutes=7))
        _timer(lead, TimerState.MET, created, met_at=created + dt.timedelta(minutes=7))
        breached = _timer(lead, TimerState.BREACHED, created, breached_at=created + dt.timedelta(minutes=20))
        _breach(breached, rep, team, DelayOwner.REP)
        _timer(lead, TimerState.RUNNING, created + dt.timedelta(hours=1))


@pytest.mark.parametrize("by", ["owner", "team", "source", "hour", "weekday"])
def test_query_count_does_not_grow_with_the_data(week, ceo, rep, team_a, by):
    compute(ceo, f"by={by}")  # warm the per-process caches (calendars, stages)
    with CaptureQueriesContext(connection) as small:
        compute(ceo, f"by={by}")
    _more(12, rep, team_a, week["ads"])
    with CaptureQueriesContext(connection) as large:
        result = compute(ceo, f"by={by}")
    assert result["total"]["leads"] == 8 + 12
    assert len(large) == len(small) <= 8


def test_empty_period(db, ceo):
    result = compute(ceo, "by=owner")
    assert result["rows"] == []
    assert figures(result["total"], *COUNTS) == (0, 0, 0, 0, 0, None)
    assert figures(result["total"], *TIMES) == (None, None, None, None)


ROLES = ["rep", "teammate", "other_rep", "head", "other_head", "marketer", "marketing_head", "ceo", "admin"]


@pytest.mark.parametrize("who", ROLES)
def test_page_and_api_answer_every_role(week, people, client, api, who):
    client.force_login(people[who])
    page = client.get(f"/reports/sla/?{PERIOD}&by=source")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="sla-histogram"' in html and "js/sla_report.js" in html and "chartjs/chart.umd.min.js" in html
    api.force_authenticate(people[who])
    answer = api.get(f"/api/v1/reports/sla/?{PERIOD}&by=source")
    assert answer.status_code == 200
    assert answer.json()["total"] == compute(people[who], "by=source")["total"]


def test_page_shows_the_figures_and_links(week, client, ceo, rep):
    client.force_login(ceo)
    html = client.get(f"/reports/sla/?{PERIOD}&by=owner").content.decode()
    row = by_key(compute(ceo, "by=owner"))[rep.pk]
    assert row["links"]["leads"].replace("&", "&amp;") in html
    assert "33.3" in html and "2790.0" in html
    assert "<script>" not in html and "onclick" not in html  # the CSP allows no inline script


def test_anonymous_is_sent_to_sign_in(db, client, api):
    assert client.get("/reports/sla/").status_code == 302
    assert api.get("/api/v1/reports/sla/").status_code in (401, 403)


@pytest.mark.parametrize("query", ["by=stage", "mode=events", "date_from=2026-02-30", "source=x"])
def test_bad_parameters_answer_400(week, client, api, ceo, query):
    client.force_login(ceo)
    assert client.get(f"/reports/sla/?{query}").status_code == 400
    api.force_authenticate(ceo)
    answer = api.get(f"/api/v1/reports/sla/?{query}")
    assert answer.status_code == 400


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports(week, client, ceo, fmt):
    client.force_login(ceo)
    answer = client.get(f"/reports/sla/?{PERIOD}&by=team&format={fmt}")
    assert answer.status_code == 200
    if fmt == "csv":
        text = answer.content.decode("utf-8-sig")
        assert "Team A" in text and "57.1" in text
