"""Reconciliation: every report's rows and totals, over random demo data, equal
the literal SQL of tests/reports/reconcile_sql.py (which imports nothing from
reports/), and every count's drill-down link lists exactly that many leads.

The data: `manage.py demo_data` (fixed seed and --today), stirred with the edge
cases the contract names (reconcile_sql.stir), made once for the module inside
a transaction that is rolled back at its end. The reports are read over the
API as the CEO (everything, money and spend), a head of sales (their team) and
a rep (own leads, no money).

Not reconciled here: the data-quality report and its KPI tile (a snapshot of
"now" over activity rules of leads/quality.py, not a figure SQL states simply).
"""

import datetime as dt
from io import StringIO
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test.utils import override_settings
from django.utils import translation
from rest_framework.test import APIClient

from tests.reports import reconcile_sql as sql

pytestmark = pytest.mark.django_db

TODAY = "2026-03-16"
SEED = 7
LEADS = 300
# Partial months at both ends (spend pro-rating), about 24 ISO weeks.
PERIOD = (dt.date(2025, 9, 17), dt.date(2026, 3, 4))
VIEWERS = ("ceo", "sales_head", "rep1")
FUNNEL_BY = ("source", "campaign", "segment", "product", "team", "owner", "month", "week")
SLA_BY = ("owner", "team", "source", "hour", "weekday")
REJECTIONS_BY = ("source", "campaign", "segment", "owner", "stage")
CHECKS = {"n": 0}


class World:
    def __init__(self, period, previous, stirred, users):
        self.period, self.previous, self.stirred, self.users = period, previous, stirred, users
        self._schedules = {}
        self._clients = {}

    def client(self, viewer):
        """One API client per viewer (a client loads the middleware once)."""
        if viewer not in self._clients:
            client = APIClient()
            client.force_authenticate(self.users[viewer])
            self._clients[viewer] = client
        return self._clients[viewer]

    def working_minutes(self, calendar_id, start, end):
        """Working minutes on the lead's calendar, by the clock's own function
        (sla.business_time), not by the report's cached walk."""
        from sla.business_time import working_time_between
        from sla.calendars import schedule_or_24x7, team_calendar
        from sla.models import BusinessCalendar

        if calendar_id not in self._schedules:
            calendar = BusinessCalendar.objects.get(pk=calendar_id) if calendar_id else team_calendar(None)
            self._schedules[calendar_id] = schedule_or_24x7(calendar)
        return sql.exact_minutes(working_time_between(self._schedules[calendar_id], start, end))


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    from revops.models import User

    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with django_db_blocker.unblock(), override_settings(CACHES=locmem):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            call_command(
                "demo_data", "--leads", str(LEADS), "--seed", str(SEED), "--today", TODAY, stdout=StringIO()
            )
            period = sql.Period(1, *PERIOD)
            previous = period.previous()
            stirred = sql.stir(period, SEED)
            sql.create_calendar_tables()
            sql.fill_calendar(period)
            sql.fill_calendar(previous)
            users = {name: User.objects.get(username=name) for name in VIEWERS}
            yield World(period, previous, stirred, users)
        finally:
            print(f"\nreconciliation: {CHECKS['n']} comparisons")
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            # Schedules are cached per (calendar id, version), and ids come back after
            # the rollback: the demo's calendars must not answer for later tests'.
            from sla.calendars import clear_cache

            clear_cache()


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def check(actual, expected, what):
    CHECKS["n"] += 1
    assert actual == expected, f"{what}: report {actual!r} != SQL {expected!r}"


def report(world, viewer, name, **query):
    response = world.client(viewer).get(f"/api/v1/reports/{name}/", {**world.period.query, **query})
    assert response.status_code == 200, response.content
    return response.json()


def listed(world, viewer, link) -> int:
    """The count of GET /api/v1/leads/ with a report link's parameters."""
    parts = urlsplit(link)
    assert parts.path == "/leads/", link
    response = world.client(viewer).get("/api/v1/leads/", [*parse_qsl(parts.query), ("page_size", "1")])
    assert response.status_code == 200, (link, response.content)
    return response.json()["count"]


def by_key(answer_rows):
    keyed = {row["key"]: row for row in answer_rows}
    assert len(keyed) == len(answer_rows), "a key appears twice"
    return keyed


def reconcile(answer, expected, fields, what):
    rows = by_key(answer["rows"])
    check(set(rows), set(expected["rows"]), f"{what}: row keys")
    for key, want in expected["rows"].items():
        for field in fields:
            check(rows[key][field], want[field], f"{what} row {key!r} {field}")
    for field in fields:
        check(answer["total"][field], expected["total"][field], f"{what} total {field}")
    return rows


def drill_down(world, viewer, rows, total, counted, what, *, rows_too=True):
    """Each count's link lists exactly that count (rows and total)."""
    for key, row in [*(rows.items() if rows_too else ()), ("total", total)]:
        for field, link in row["links"].items():
            if field == "reasons":
                for code, reason_link in link.items():
                    check(
                        listed(world, viewer, reason_link),
                        row["reasons"][code],
                        f"{what} {key!r} reason {code}",
                    )
                continue
            if field == "dispute_outcomes":  # {reason: {outcome: link}}
                for code, links in link.items():
                    for outcome, outcome_link in links.items():
                        check(
                            listed(world, viewer, outcome_link),
                            row["dispute_outcomes"][code][outcome],
                            f"{what} {key!r} dispute {code} {outcome}",
                        )
                continue
            assert field in counted, f"{what}: a link on {field!r}, which is not a count"
            check(listed(world, viewer, link), row[field], f"{what} {key!r} {field} drill-down")


# --- the data is what the test needs -------------------------------------------------------


def test_the_data_exercises_every_figure(world):
    ceo = sql.Viewer(world.users["ceo"])
    cohort = sql.funnel("source", "cohort", world.period, ceo)["total"]
    events = sql.funnel("source", "events", world.period, ceo)["total"]
    timers = sql.sla("owner", world.period, ceo, world.working_minutes)["total"]
    lost = sql.rejections("source", world.period, ceo)["total"]
    assert cohort["leads"] >= 80 and cohort["won"] > 0 and cohort["meeting"] > cohort["won"]
    assert cohort["rejected"] > 0 and cohort["nurture"] > 0 and cohort["mql"] > cohort["sql"]
    assert all(events[step] > 0 for step in sql.COUNTS), events
    assert events["revenue"] != "0.00" and events["repeat_revenue"] != "0.00"
    assert cohort["spend"] not in (None, "0.00")
    assert timers["met"] and timers["breached"] and timers["running"] and timers["callback_breaches"]
    assert timers["breaches_system"] and timers["breaches_rep"]
    assert len(lost["reasons"]) >= 5
    assert lost["disputed"] > 0 and lost["upheld"] and lost["overturned"] and lost["disputes_open"]
    assert set(world.stirred) >= {
        "qualified_events",
        "made_duplicate",
        "edge_leads",
        "met_with_breach",
        "undone_closes",
        "returns",
    }


# --- funnel ------------------------------------------------------------------------------


FUNNEL_FIELDS = (*sql.COUNTS, *sql.MONEY, "spend", "cpl", "cost_per_sql", "cpa", "romi")


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("mode", ["cohort", "events"])
@pytest.mark.parametrize("by", FUNNEL_BY)
def test_funnel(world, viewer, by, mode):
    what = f"funnel by {by} {mode} as {viewer}"
    answer = report(world, viewer, "funnel", by=by, mode=mode)
    assert (answer["by"], answer["mode"]) == (by, mode)
    expected = sql.funnel(by, mode, world.period, sql.Viewer(world.users[viewer]))
    rows = reconcile(answer, expected, FUNNEL_FIELDS, what)
    # Every row's links as the CEO; a head's and a rep's month/week rows differ from
    # the CEO's only in whose leads the list shows, which their totals' links and
    # the other groupings' rows check (and it keeps the module under a minute).
    rows_too = viewer == "ceo" or by not in ("month", "week")
    drill_down(world, viewer, rows, answer["total"], sql.COUNTS, what, rows_too=rows_too)


@pytest.mark.parametrize("by", ["source", "month"])
def test_a_team_filter_slices_the_funnel_and_hides_spend(world, by):
    """The CEO filtering one team sees that team's figures (a head's), and no spend:
    company spend over a slice of leads would lie."""
    team_id = world.users["sales_head"].team_id
    answer = report(world, "ceo", "funnel", by=by, mode="cohort", team=team_id)
    scope = sql.Viewer(world.users["sales_head"])
    expected = sql.funnel(by, "cohort", world.period, scope)
    rows = reconcile(answer, expected, FUNNEL_FIELDS, f"funnel by {by}, team filter")
    assert all(row["spend"] is None and row["cpl"] is None for row in rows.values())
    drill_down(world, "ceo", rows, answer["total"], sql.COUNTS, f"funnel by {by}, team filter")


# --- SLA ---------------------------------------------------------------------------------

SLA_FIELDS = (
    "leads",
    *sql.SLA_COUNTS,
    "met_pct",
    "first_contact_median_min",
    "first_contact_p90_min",
    "first_contact_median_work_min",
    "first_contact_p90_work_min",
)


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("by", SLA_BY)
def test_sla(world, viewer, by):
    what = f"sla by {by} as {viewer}"
    answer = report(world, viewer, "sla", by=by)
    expected = sql.sla(by, world.period, sql.Viewer(world.users[viewer]), world.working_minutes)
    rows = reconcile(answer, expected, SLA_FIELDS, what)
    drill_down(world, viewer, rows, answer["total"], ("leads",), what)


# --- rejections --------------------------------------------------------------------------


def _reasons(answer_rows):
    return {
        key: {("null" if code is None else code): n for code, n in row["reasons"].items()}
        for key, row in answer_rows.items()
    }


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("by", REJECTIONS_BY)
def test_rejections(world, viewer, by):
    what = f"rejections by {by} as {viewer}"
    answer = report(world, viewer, "rejections", by=by)
    expected = sql.rejections(by, world.period, sql.Viewer(world.users[viewer]))
    for item in [*expected["rows"].values(), expected["total"]]:
        item["reasons"] = {("null" if code is None else code): n for code, n in item["reasons"].items()}
        item["dispute_outcomes"] = {
            ("null" if code is None else code): n for code, n in item["dispute_outcomes"].items()
        }
    disputes = ("disputed", "disputes_open", "upheld", "overturned", "dispute_outcomes")
    fields = ("leads", "rejected", "reasons", "not_target_pct", "spam_pct", *disputes)
    rows = reconcile(answer, expected, fields, what)
    drill_down(world, viewer, rows, answer["total"], ("leads", "rejected", *disputes[:4]), what)


# --- KPI tiles ---------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
def test_kpi_tiles(world, viewer):
    answer = report(world, viewer, "kpis")
    tiles = {tile["code"]: tile for tile in answer["tiles"]}
    scope = sql.Viewer(world.users[viewer])
    current = sql.kpis(world.period, scope)
    previous = sql.kpis(world.previous, scope)
    for code, value in current.items():
        check(tiles[code]["value"], value, f"kpi {code} as {viewer}")
        check(tiles[code]["previous"], previous[code], f"kpi {code} previous as {viewer}")
