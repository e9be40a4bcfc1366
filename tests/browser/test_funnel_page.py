"""A marketer's path through the funnel: open it, change the period and the
grouping, click a count and land on exactly that many leads; the wide table
scrolls in its box, never the page."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import login, page_scroll_width
from tests.factories import LeadFactory, SourceFactory

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def test_a_marketer_changes_period_and_grouping_and_drills_down(page, live_server, floor, marketer):
    other = SourceFactory(code="expo", name="Expo")
    arrived = timezone.now() - dt.timedelta(days=40)
    for source, n in ((floor["source"], 3), (other, 2)):
        for _ in range(n):
            LeadFactory(owner=floor["rep"], source=source, created_at=arrived)
    day = timezone.localdate(arrived)
    login(page, live_server, "marketer")
    page.goto(f"{live_server.url}/reports/funnel/")
    expect(page.locator("h1")).to_be_visible()

    # The default period (this month) does not hold them; choose theirs and group by source.
    page.fill("input[name=date_from]", (day - dt.timedelta(days=1)).isoformat())
    page.fill("input[name=date_to]", (day + dt.timedelta(days=1)).isoformat())
    page.select_option("select[name=by]", "source")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**by=source**")
    row = page.locator("table.funnel tbody tr", has_text="Expo")
    expect(row).to_have_count(1)
    assert page_scroll_width(page) <= 1366 + 1, f"the page scrolls sideways: {page_scroll_width(page)}px"

    row.locator("td a").first.click()  # the row's lead count
    page.wait_for_url("**/leads/**")
    expect(page.locator("table.leads tbody tr")).to_have_count(2)
