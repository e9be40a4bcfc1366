"""The SLA report page in a real browser: the histogram is drawn by the vendored
Chart.js from the page's json_script under the Content-Security-Policy (the
autouse guard fails the test on a violation, a JS error or a missing static file),
and a lead count leads to that many leads."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.factories import LeadFactory

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def test_the_histogram_is_drawn_and_a_count_drills_down(page, live_server, floor, ceo):
    now = timezone.now()
    for minutes in (3, 10, 45):
        LeadFactory(
            owner=floor["rep"],
            source=floor["source"],
            created_at=now - dt.timedelta(hours=2),
            first_contact_at=now - dt.timedelta(hours=2) + dt.timedelta(minutes=minutes),
        )
    arrived = timezone.localdate(now - dt.timedelta(hours=2)).isoformat()  # a run just after midnight too
    today = timezone.localdate(now).isoformat()
    login(page, live_server, "ceo")
    page.goto(f"{live_server.url}/reports/sla/?date_from={arrived}&date_to={today}&by=source")

    page.wait_for_function("() => window.Chart && Chart.getChart('sla-histogram-chart')")
    bars = page.evaluate("() => Chart.getChart('sla-histogram-chart').data.datasets[0].data")
    assert bars == [1, 1, 0, 1, 0, 0, 0, 0, 0]

    page.locator("table.report tbody a").first.click()
    page.wait_for_url("**/leads/**")
    expect(page.locator("table.leads tbody tr")).to_have_count(3)
