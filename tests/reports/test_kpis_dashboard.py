"""/dashboard/ (the CEO's home page) and /dashboard/targets/ (monthly targets)."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports import kpis
from reports.models import KpiTarget
from tests.factories import LeadFactory
from tests.reports.kpi_dataset import ARRIVAL, TODAY, build

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


@pytest.fixture
def dataset(rep, other_rep):
    with time_machine.travel(TODAY, tick=False):
        yield build(rep, other_rep)


def get(client, user, url="/dashboard/", **query):
    client.force_login(user)
    return client.get(url, query)


def test_ceo_home_is_the_dashboard(client, ceo):
    client.force_login(ceo)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_ceo_sees_every_tile_with_target_previous_status_and_links(client, ceo, dataset):
    KpiTarget.objects.create(code="revenue", month=dt.date(2026, 3, 1), value=Decimal(620000))
    response = get(client, ceo)
    assert response.status_code == 200
    html = response.content.decode()
    # Money as Russian readers write it.
    assert f"550{NBSP}000{NBSP}₽" in html  # revenue
    assert f"400{NBSP}000{NBSP}₽" in html  # its target, pro-rated 20/31
    assert f"100{NBSP}000{NBSP}₽" in html  # the previous period
    assert f"11,1{NBSP}%" in html  # lead to won
    # Status in words and an icon, not colour alone.
    assert "status-green" in html and "✓" in html
    tiles = {tile["code"]: tile for tile in response.context["tiles"]}
    assert len(tiles) == 13
    assert tiles["revenue"]["status"] == "green"
    links = re.findall(r'<h3><a href="([^"]+)"', html)
    assert len(links) == 13
    assert (
        "/reports/funnel/?date_from=2026-03-01&amp;date_to=2026-03-20&amp;mode=events&amp;by=source" in links
    )
    assert any(link.startswith("/reports/sla/?") for link in links)
    assert "/reports/quality/" in links
    assert "/reports/rejections/?date_from=2026-03-01&amp;date_to=2026-03-20" in links


def test_no_inline_script_and_the_trend_comes_in_a_second_request(client, ceo, dataset):
    html = get(client, ceo).content.decode()
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "onclick" not in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert "js/dashboard.js" in html
    # The page has the tiles and a placeholder per trended tile, not the trend.
    assert 'id="kpi-trend"' not in html
    assert 'id="trend-leads"' in html and 'id="trend-data_quality_pct"' not in html
    trend_url = re.search(r'<p id="dash-trend"[^>]* data-url="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert trend_url == "/dashboard/trend/?period=custom&date_from=2026-03-01&date_to=2026-03-20"
    html = client.get(trend_url).content.decode()
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'type="application/json"' in tag, tag
    data = json.loads(
        re.search(r'<script id="kpi-trend" type="application/json">(.*?)</script>', html).group(1)
    )
    # The months as people read them (the page's language; this client sends none: Russian).
    assert data["months"] == [
        "Октябрь 2025",
        "Ноябрь 2025",
        "Декабрь 2025",
        "Январь 2026",
        "Февраль 2026",
        "Март 2026",
    ]
    assert data["series"]["leads"] == [0, 0, 0, 1, 1, 9]  # January: L11; February: L12
    assert data["series"]["revenue"] == [0, 0, 0, 0, 100000, 550000]
    assert data["series"]["won"] == [0, 0, 0, 0, 1, 2]
    # February whole; March so far, its spend pro-rated to the 20th as the tile's.
    assert data["series"]["cpl"][-2:] == [280000.0, 22222.22]
    assert data["series"]["first_contact_median_min"][-1] == 20
    assert "data_quality_pct" not in data["series"]  # a snapshot has no trend
    assert 'data-kpi="leads"' in html


def test_period_presets(client, ceo, dataset):
    response = get(client, ceo, period="last_month")
    assert response.status_code == 200
    assert (response.context["params"].date_from, response.context["params"].date_to) == (
        dt.date(2026, 2, 1),
        dt.date(2026, 2, 28),
    )
    for preset, start in (
        ("quarter", dt.date(2026, 1, 1)),
        ("year", dt.date(2026, 1, 1)),
        ("month", dt.date(2026, 3, 1)),
    ):
        params = get(client, ceo, period=preset).context["params"]
        assert (params.date_from, params.date_to) == (start, dt.date(2026, 3, 20))
    params = get(client, ceo, period="custom", date_from="2026-02-01", date_to="2026-02-10").context["params"]
    assert (params.date_from, params.date_to) == (dt.date(2026, 2, 1), dt.date(2026, 2, 10))


@pytest.mark.parametrize(
    "query",
    [
        {"period": "fortnight"},
        {"period": "custom", "date_from": "yesterday"},
        {"period": "custom", "date_from": "2026-03-10", "date_to": "2026-03-01"},
    ],
)
def test_bad_period_answers_400_with_a_message(client, ceo, dataset, query):
    response = get(client, ceo, **query)
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()


def test_rep_goes_to_the_queue(client, rep):
    response = get(client, rep)
    assert response.status_code == 302
    assert response["Location"] == "/queue/"


def test_anonymous_signs_in_first(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_head_sees_the_team(client, head, dataset):
    response = get(client, head)
    assert response.status_code == 200
    tiles = {tile["code"]: tile for tile in response.context["tiles"]}
    assert tiles["leads"]["value"] == 5
    assert tiles["revenue"]["value"] == "300000.00"
    assert tiles["cpl"]["value"] is None


@pytest.mark.parametrize("persona", ["marketer", "marketing_head", "admin_user"])
def test_marketing_and_admins_see_everything(client, persona, request, dataset):
    response = get(client, request.getfixturevalue(persona))
    assert response.status_code == 200
    tiles = {tile["code"]: tile for tile in response.context["tiles"]}
    assert tiles["leads"]["value"] == 9
    assert tiles["cpl"]["value"] == "22222.22"


def _more_leads(rep, other_rep, n):
    for i in range(n):
        LeadFactory(owner=rep if i % 2 else other_rep, created_at=ARRIVAL + dt.timedelta(hours=i))


def test_constant_number_of_queries(client, ceo, rep, other_rep, dataset):
    client.force_login(ceo)
    client.get("/dashboard/")  # warm the per-process caches
    with CaptureQueriesContext(connection) as small:
        assert client.get("/dashboard/").status_code == 200
    _more_leads(rep, other_rep, 30)
    with CaptureQueriesContext(connection) as large:
        assert client.get("/dashboard/").status_code == 200
    assert len(large) == len(small)
    # About 25 aggregate queries; the rest are the stage table's reads, which the
    # reference cache serves from memory outside a test's transaction.
    assert len(small) <= 60


# --- targets --------------------------------------------------------------------------------

TARGETS = "/dashboard/targets/"


def test_rep_may_not_see_targets(client, rep):
    assert get(client, rep, TARGETS).status_code == 403
    client.force_login(rep)
    assert client.post(TARGETS, {"month": "2026-03", "revenue": "1"}).status_code == 403
    assert not KpiTarget.objects.exists()


@pytest.mark.parametrize("persona", ["head", "marketer", "marketing_head"])
def test_heads_and_marketing_read_targets_only(client, persona, request):
    user = request.getfixturevalue(persona)
    KpiTarget.objects.create(code="leads", month=dt.date(2026, 3, 1), value=Decimal(150))
    response = get(client, user, TARGETS, month="2026-03")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="150.00"' in html
    assert "disabled" in html
    assert client.post(TARGETS, {"month": "2026-03", "leads": "10"}).status_code == 403
    assert KpiTarget.objects.get().value == Decimal(150)


@pytest.mark.parametrize("persona", ["ceo", "admin_user"])
def test_executives_and_admins_set_targets(client, persona, request):
    client.force_login(request.getfixturevalue(persona))
    KpiTarget.objects.create(code="won", month=dt.date(2026, 3, 1), value=Decimal(5))
    response = client.post(
        TARGETS, {"month": "2026-03", "revenue": "4336000", "sla_met_pct": "90.5", "won": ""}
    )
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/targets/?month=2026-03"
    assert dict(KpiTarget.objects.values_list("code", "value")) == {
        "revenue": Decimal("4336000.00"),
        "sla_met_pct": Decimal("90.50"),
    }  # an emptied field removes that target


@pytest.mark.parametrize(
    "data",
    [
        {"month": "2026-03", "revenue": "-1"},
        {"month": "2026-03", "revenue": "lots"},
        {"month": "2026-03", "revenue": "1" * 20},
        {"month": "2026-03", "revenue": "1.234"},
        {"month": "2026-03", "revenue": "NaN"},
        {"month": "2026-13", "revenue": "1"},
        {"month": "march", "revenue": "1"},
        {"month": "", "revenue": "1"},
        {"month": "9999-01", "revenue": "1"},
    ],
)
def test_bad_targets_answer_400_and_change_nothing(client, ceo, data):
    KpiTarget.objects.create(code="leads", month=dt.date(2026, 3, 1), value=Decimal(150))
    client.force_login(ceo)
    response = client.post(TARGETS, {**data, "leads": "200"})
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert list(KpiTarget.objects.values_list("code", "value")) == [("leads", Decimal(150))]


def test_bad_month_in_the_address_answers_400(client, ceo):
    assert get(client, ceo, TARGETS, month="2026-99").status_code == 400


# --- the trend's request (/dashboard/trend/) ---------------------------------------------------

TREND = "/dashboard/trend/"
TREND_QUERY = {"period": "custom", "date_from": "2026-03-01", "date_to": "2026-03-20"}


def _trend_data(html: str) -> dict:
    return json.loads(
        re.search(r'<script id="kpi-trend" type="application/json">(.*?)</script>', html).group(1)
    )


def test_the_trend_carries_each_tiles_chart_out_of_band(client, ceo, dataset):
    client.force_login(ceo)
    html = client.get(TREND, TREND_QUERY, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # Each trended tile's chart replaces that tile's placeholder (the element with
    # its id), with the months in words for people who do not see the chart.
    charts = re.findall(r'<div class="dash-chart" id="trend-(\w+)">', html)
    assert set(charts) == set(kpis.TREND_CODES)
    assert "data_quality_pct" not in charts
    assert re.search(r'aria-label="Leads, last 6 months: October 2025: 0; [^"]*March 2026: 9"', html)
    assert 'id="dash-trend"' in html  # replaces the page's "Loading…"


def test_the_trend_equals_the_tiles_of_each_month(client, ceo, dataset):
    """The trend's last month is the tile's period: the same figures."""
    client.force_login(ceo)
    data = _trend_data(client.get(TREND, TREND_QUERY).content.decode())
    tiles = {tile["code"]: tile for tile in client.get("/dashboard/").context["tiles"]}
    for code in kpis.TREND_CODES:
        value = tiles[code]["value"]
        assert data["series"][code][-1] == (None if value is None else float(value)), code


@pytest.mark.parametrize("persona", ["ceo", "admin_user", "marketer", "marketing_head", "head"])
def test_who_sees_the_dashboard_sees_its_trend(client, persona, request, dataset):
    user = request.getfixturevalue(persona)
    response = get(client, user, TREND, **TREND_QUERY)
    assert response.status_code == 200
    data = _trend_data(response.content.decode())
    if persona == "head":  # the team's leads only, no spend (as the head's tiles)
        assert data["series"]["leads"][-1] == 5
        assert set(data["series"]["cpl"]) == {None}
    else:
        assert data["series"]["leads"][-1] == 9
        assert data["series"]["cpl"][-1] == 22222.22


def test_a_rep_may_not_read_the_trend(client, rep, dataset):
    response = get(client, rep, TREND, **TREND_QUERY)
    assert response.status_code == 403
    assert "kpi-trend" not in response.content.decode()


def test_anonymous_trend_signs_in_first(client):
    response = client.get(TREND, TREND_QUERY)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_bad_trend_period_answers_400(client, ceo, dataset):
    response = get(client, ceo, TREND, period="custom", date_from="2026-03-10", date_to="2026-03-01")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html and "kpi-trend" not in html


def test_trend_in_russian(client, ceo, dataset):
    client.force_login(ceo)
    html = client.get(TREND, TREND_QUERY, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "последние 6 месяцев" in html
    page = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Загружаем динамику за полгода…" in page
    assert "Динамику не удалось загрузить" in page


def test_trend_queries_do_not_grow_with_the_data(client, ceo, rep, other_rep, dataset):
    client.force_login(ceo)
    client.get(TREND, TREND_QUERY)  # warm the per-process caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(TREND, TREND_QUERY).status_code == 200
    _more_leads(rep, other_rep, 30)
    with CaptureQueriesContext(connection) as large:
        assert client.get(TREND, TREND_QUERY).status_code == 200
    assert len(large) == len(small)
