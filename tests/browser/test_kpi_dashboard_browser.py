"""The CEO's morning: sign in, land on the dashboard, set this month's targets,
see each tile's status in words and its trend drawn by Chart.js (under the CSP)."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.choices import DealStatus, Qualification
from leads.models import Deal, StageChange
from tests.browser.helpers import login, shot
from tests.factories import LeadFactory, stage

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def test_ceo_sees_the_dashboard_with_targets(page, live_server, floor, ceo):
    now = timezone.now()
    for n in range(4):
        LeadFactory(owner=floor["rep"], source=floor["source"], created_at=now - dt.timedelta(minutes=30 + n))
    won = LeadFactory(
        owner=floor["rep"],
        source=floor["source"],
        stage=stage("deal"),
        qualification=Qualification.SQL,
        created_at=now - dt.timedelta(minutes=20),
    )
    StageChange.objects.create(lead=won, from_stage=stage("proposal"), to_stage=stage("deal"), changed_at=now)
    Deal.objects.create(
        lead=won,
        contact=won.contact,
        amount=4336000,
        margin=1200000,
        status=DealStatus.WON,
        closed_on=timezone.localdate(now),
    )

    login(page, live_server, "ceo")
    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    revenue = page.locator('.dash-tile[data-code="revenue"]')
    expect(revenue.locator(".dash-value")).to_have_text("4,336,000\u00a0₽")
    expect(revenue.locator(".dash-status")).to_contain_text("No target")

    page.get_by_role("link", name="Set monthly targets").click()
    page.get_by_label("Revenue").fill("1000")
    page.get_by_label("Leads", exact=True).fill("100000")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("saved")

    page.get_by_role("link", name="Back to the dashboard").click()
    expect(revenue.locator(".dash-status")).to_contain_text("On target")
    leads = page.locator('.dash-tile[data-code="leads"]')
    expect(leads.locator(".dash-status")).to_contain_text("Off target")
    # Chart.js drew the trend into the tile's canvas.
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-kpi=\"revenue\"]'))"
    )
    shot(page, "dashboard-ceo")


def test_the_tiles_do_not_wait_for_the_trend(page, live_server, floor, ceo):
    """The tiles are on the page as it opens; the trend comes in its own request
    afterwards (held back here) and draws each tile's chart when it answers."""
    now = timezone.now()
    for n in range(3):
        LeadFactory(owner=floor["rep"], source=floor["source"], created_at=now - dt.timedelta(minutes=10 + n))
    held = []
    page.route("**/dashboard/trend/**", lambda route: held.append(route))

    login(page, live_server, "ceo")
    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    leads = page.locator('.dash-tile[data-code="leads"]')
    expect(leads.locator(".dash-value")).to_have_text("3")
    status = page.locator("#dash-trend")
    expect(status).to_have_text("Loading the six-month trend…")
    for _ in range(100):  # the script asks once the page is shown
        if held:
            break
        page.wait_for_timeout(100)
    expect(leads.locator("canvas")).to_have_count(0)
    assert len(held) == 1 and "period=custom" in held[0].request.url

    held.pop().continue_()
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-kpi=\"leads\"]'))"
    )
    expect(leads.locator("canvas")).to_have_attribute(
        "aria-label", re.compile(r"^Leads, last 6 months: .*: 3$")
    )
    expect(status).to_have_text("Charts: the last 6 months, month by month.")
    expect(page.locator('.dash-tile[data-code="data_quality_pct"] canvas')).to_have_count(0)


def test_a_failed_trend_says_so(page, live_server, floor, ceo):
    page.route("**/dashboard/trend/**", lambda route: route.fulfill(status=500, body="no"))
    login(page, live_server, "ceo")
    status = page.locator("#dash-trend")
    expect(status).to_have_text("The trend could not be loaded. Reload the page to try again.")
    expect(status).to_have_attribute("role", "alert")
    expect(page.locator('.dash-tile[data-code="revenue"] .dash-value')).to_be_visible()
