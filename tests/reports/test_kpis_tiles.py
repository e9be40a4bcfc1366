"""The KPI tiles over the hand-made dataset of tests/reports/kpi_dataset.py:
every tile's value, the previous period, targets and their status, per role."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from reports import kpis
from reports.models import KpiTarget
from tests.reports.kpi_dataset import TODAY, build

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/kpis/"


@pytest.fixture
def dataset(rep, other_rep):
    with time_machine.travel(TODAY, tick=False):
        yield build(rep, other_rep)


def tiles_for(api, user, **query):
    api.force_authenticate(user)
    response = api.get(URL, query)
    assert response.status_code == 200, response.content
    return response.json()


def by_code(body):
    return {tile["code"]: tile for tile in body["tiles"]}


def test_every_tile_for_the_ceo(api, ceo, dataset):
    body = tiles_for(api, ceo)
    assert body["date_from"] == "2026-03-01"
    assert body["date_to"] == "2026-03-20"
    assert [t["code"] for t in body["tiles"]] == [
        "revenue",
        "margin",
        "won",
        "lead_to_won",
        "leads",
        "cpl",
        "target_share",
        "lead_to_sql",
        "first_contact_median_min",
        "sla_met_pct",
        "sql_to_meeting",
        "meeting_to_won",
        "data_quality_pct",
    ]
    values = {code: tile["value"] for code, tile in by_code(body).items()}
    assert values == {
        # won deals closed 1–20 March, repeat sale included, the duplicate's never
        "revenue": "550000.00",
        "margin": "170000.00",
        "won": 2,  # L1 and L11 first entered the won stage in March
        "lead_to_won": "11.1",  # 1 of 9
        "leads": 9,
        "cpl": "22222.22",  # 310 000 × 20/31 / 9
        "target_share": "77.8",  # 7 of 9
        "lead_to_sql": "55.6",  # 5 of 9
        "first_contact_median_min": "20.0",  # 10, 20, 40
        "sla_met_pct": "66.7",  # 2 met, 1 breached
        "sql_to_meeting": "80.0",  # 4 of 5
        "meeting_to_won": "25.0",  # 1 of 4
        "data_quality_pct": "60.0",
    }
    tiles = by_code(body)
    assert {code: t["mode"] for code, t in tiles.items()} == {
        **dict.fromkeys(
            [
                "lead_to_won",
                "leads",
                "cpl",
                "target_share",
                "lead_to_sql",
                "first_contact_median_min",
                "sla_met_pct",
                "sql_to_meeting",
                "meeting_to_won",
            ],
            "cohort",
        ),
        "revenue": "events",
        "margin": "events",
        "won": "events",
        "data_quality_pct": "now",
    }
    lower = {code for code, t in tiles.items() if t["better"] == "lower"}
    assert lower == {"cpl", "first_contact_median_min"}
    assert all(t["status"] == "none" and t["target"] is None for t in tiles.values())
    assert all(isinstance(t["label"], str) and t["label"] for t in tiles.values())


def test_previous_period_is_the_same_length_just_before(api, ceo, dataset):
    # 1–20 March → 9–28 February: L12 arrived and was won there.
    tiles = by_code(tiles_for(api, ceo))
    previous = {code: tile["previous"] for code, tile in tiles.items()}
    assert previous["revenue"] == "100000.00"
    assert previous["margin"] == "40000.00"
    assert previous["won"] == 1
    assert previous["leads"] == 1
    assert previous["lead_to_won"] == "100.0"
    assert previous["cpl"] == "200000.00"  # 280 000 × 20/28 / 1
    assert previous["sla_met_pct"] is None
    assert previous["first_contact_median_min"] is None
    assert previous["data_quality_pct"] is None  # a snapshot of now has no past


def test_a_custom_period(api, ceo, dataset):
    body = tiles_for(api, ceo, date_from="2026-02-01", date_to="2026-02-28")
    tiles = by_code(body)
    assert tiles["leads"]["value"] == 1
    assert tiles["revenue"]["value"] == "100000.00"
    assert tiles["cpl"]["value"] == "280000.00"


def test_targets_status_and_pro_rating(api, ceo, dataset):
    march = dt.date(2026, 3, 1)
    for code, value in {
        "revenue": 620000,  # × 20/31 = 400 000; 550 000 → green
        "leads": 15,  # × 20/31 = 9.68; 9 is within 10 % → amber
        "won": 10,  # × 20/31 = 6.45; 2 → red
        "cpl": 21000,  # lower is better; 22 222.22 ≤ 23 100 → amber
        "lead_to_sql": 50,  # a ratio is not pro-rated; 55.6 → green
        "first_contact_median_min": 20,  # exactly on target → green
        "sla_met_pct": 70,  # 66.7 ≥ 63 → amber
        "meeting_to_won": 30,  # 25 < 27 → red
    }.items():
        KpiTarget.objects.create(code=code, month=march, value=Decimal(value))
    tiles = by_code(tiles_for(api, ceo))
    assert {code: (t["target"], t["status"]) for code, t in tiles.items()} == {
        "revenue": ("400000.00", "green"),
        "margin": (None, "none"),
        "won": ("6.45", "red"),
        "lead_to_won": (None, "none"),
        "leads": ("9.68", "amber"),
        "cpl": ("21000.00", "amber"),
        "target_share": (None, "none"),
        "lead_to_sql": ("50.00", "green"),
        "first_contact_median_min": ("20.00", "green"),
        "sla_met_pct": ("70.00", "amber"),
        "sql_to_meeting": (None, "none"),
        "meeting_to_won": ("30.00", "red"),
        "data_quality_pct": (None, "none"),
    }


@pytest.mark.parametrize(
    ("value", "target", "better", "expected"),
    [
        ("100", "100", "higher", "green"),
        ("101", "100", "higher", "green"),
        ("90", "100", "higher", "amber"),  # worse by exactly 10 %
        ("89.99", "100", "higher", "red"),
        ("100", "100", "lower", "green"),
        ("110", "100", "lower", "amber"),  # worse by exactly 10 %
        ("110.01", "100", "lower", "red"),
        ("0", "0", "lower", "green"),
        (None, "100", "higher", "none"),
        ("5", None, "higher", "none"),
    ],
)
def test_status_thresholds(value, target, better, expected):
    assert kpis.status(value, target, better) == expected


def test_pro_rating_across_months():
    rows = [
        ("revenue", dt.date(2026, 1, 1), Decimal(310)),
        ("revenue", dt.date(2026, 2, 1), Decimal(280)),
        ("lead_to_sql", dt.date(2026, 1, 1), Decimal(50)),
        ("lead_to_sql", dt.date(2026, 2, 1), Decimal(60)),
        ("leads", dt.date(2026, 1, 1), Decimal(100)),  # February has none
    ]
    targets = kpis.period_targets(dt.date(2026, 1, 20), dt.date(2026, 2, 10), rows)
    # 12 of January's 31 days and 10 of February's 28
    assert targets["revenue"] == Decimal(120) + Decimal(100)
    # A ratio's target is the months' own, weighted by the days of each inside the period.
    assert targets["lead_to_sql"].quantize(Decimal("0.01")) == Decimal("54.55")
    # A period reaching a month without a target has none.
    assert targets["leads"] is None
    assert targets["margin"] is None
    one_month = kpis.period_targets(dt.date(2026, 2, 1), dt.date(2026, 2, 28), rows)
    assert one_month["revenue"] == Decimal(280)
    assert one_month["lead_to_sql"] == Decimal(60)


def test_head_sees_the_team_without_spend(api, head, dataset):
    tiles = by_code(tiles_for(api, head))
    # Team A: L1, L2, L5, L6, L9 arrived in March; L1 won, its deal is the only one.
    assert tiles["leads"]["value"] == 5
    assert tiles["revenue"]["value"] == "300000.00"
    assert tiles["won"]["value"] == 1
    assert tiles["lead_to_won"]["value"] == "20.0"
    assert tiles["cpl"]["value"] is None  # company spend over a team's leads would lie
    assert tiles["sla_met_pct"]["value"] == "100.0"


@pytest.mark.parametrize("persona", ["marketer", "marketing_head", "ceo", "admin_user"])
def test_company_wide_roles_see_everything(api, persona, request, dataset):
    tiles = by_code(tiles_for(api, request.getfixturevalue(persona)))
    assert tiles["leads"]["value"] == 9
    assert tiles["revenue"]["value"] == "550000.00"
    assert tiles["cpl"]["value"] == "22222.22"


def test_rep_sees_own_figures_and_no_money(api, rep, dataset):
    KpiTarget.objects.create(code="revenue", month=dt.date(2026, 3, 1), value=1000)
    tiles = by_code(tiles_for(api, rep))
    assert tiles["leads"]["value"] == 5
    for code in ("revenue", "margin", "cpl"):
        assert tiles[code]["value"] is None
        assert tiles[code]["previous"] is None
        assert tiles[code]["target"] is None
        assert tiles[code]["status"] == "none"


def test_anonymous_is_refused(api, dataset):
    assert api.get(URL).status_code in (401, 403)


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-13-01", "date_to": "2026-03-05"},
        {"date_from": "2026-13-01"},
        {"date_from": "2026-03-10", "date_to": "2026-03-01"},
        {"mode": "sideways"},
        {"source": "abc"},
    ],
)
def test_bad_parameters_answer_400(api, ceo, dataset, query):
    api.force_authenticate(ceo)
    response = api.get(URL, query)
    assert response.status_code == 400


@pytest.mark.parametrize("persona", ["rep", "head", "marketer", "ceo"])
def test_the_generic_report_page_lists_the_tiles(client, persona, request, dataset):
    client.force_login(request.getfixturevalue(persona))
    response = client.get("/reports/kpis/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/dashboard/?period=custom&amp;date_from=2026-03-01&amp;date_to=2026-03-20" in html
    assert html.count('<th scope="row">') == 13


def test_csv_export_has_a_line_per_tile(api, ceo, dataset):
    api.force_authenticate(ceo)
    response = api.get(URL, {"format": "csv"})
    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 1 + 13


@pytest.mark.parametrize("persona", ["ceo", "head"])
def test_tiles_agree_with_the_reports_behind_them(api, persona, request, dataset):
    """The tiles are the totals of the reports behind them (funnel, SLA)."""
    user = request.getfixturevalue(persona)
    tiles = by_code(tiles_for(api, user))
    api.force_authenticate(user)
    sla_total = api.get("/api/v1/reports/sla/", {"by": "owner"}).json()["total"]
    assert tiles["sla_met_pct"]["value"] == sla_total["met_pct"]
    assert tiles["first_contact_median_min"]["value"] == sla_total["first_contact_median_min"]
    funnel = api.get("/api/v1/reports/funnel/", {"by": "source"})
    assert funnel.status_code == 200
    total = funnel.json()["total"]
    assert tiles["leads"]["value"] == total["leads"]
    assert tiles["lead_to_won"]["value"] == _pct(total["won"], total["leads"])
    assert tiles["lead_to_sql"]["value"] == _pct(total["sql"], total["leads"])
    assert tiles["sql_to_meeting"]["value"] == _pct(total["meeting"], total["sql"])
    assert tiles["meeting_to_won"]["value"] == _pct(total["won"], total["meeting"])
    events = api.get("/api/v1/reports/funnel/", {"by": "source", "mode": "events"}).json()["total"]
    assert tiles["won"]["value"] == events["won"]
    # The revenue tile counts repeat sales too (DESIGN: all won deals).
    revenue = Decimal(events["revenue"]) + Decimal(events["repeat_revenue"])
    assert Decimal(tiles["revenue"]["value"]) == revenue
    if persona == "ceo":
        assert tiles["cpl"]["value"] == total["cpl"]


def _pct(num, den):
    from reports.base import percent

    return percent(num, den)


def test_median_of_an_even_count_rounds_half_up_once(api, ceo):
    """12 min 20 s and 12 min 22 s: the median is 12 min 21 s = 12.35 min → 12.4."""
    from tests.factories import LeadFactory
    from tests.reports.kpi_dataset import ARRIVAL

    with time_machine.travel(TODAY, tick=False):
        for seconds in (740, 742):
            LeadFactory(created_at=ARRIVAL, first_contact_at=ARRIVAL + dt.timedelta(seconds=seconds))
        tiles = by_code(tiles_for(api, ceo))
    assert tiles["first_contact_median_min"]["value"] == "12.4"
