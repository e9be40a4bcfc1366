"""A marketer on /nurture/: sees who is in nurture, why and when each comes back,
filters to those back this week, returns one by hand from the list and stays on
the filtered list; the lead is in its rep's queue with the "back from nurture"
mark. The page fits a laptop's width."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads import actions
from leads.models import Lead
from tests.browser.helpers import login, page_scroll_width, shot
from tests.factories import ContactFactory, LeadFactory

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def test_a_marketer_returns_a_lead_from_the_nurture_page(page, live_server, floor, marketer):
    rep = floor["rep"]
    now = timezone.now()
    soon = LeadFactory(
        owner=rep,
        team=floor["team"],
        source=floor["source"],
        created_at=now - dt.timedelta(days=10),
        contact=ContactFactory(name="Анна Петрова", company="ООО «Вектор»"),
    )
    actions.send_to_nurture(soon, rep, "бюджет в следующем квартале", None, at=now - dt.timedelta(days=9))
    later = LeadFactory(
        owner=rep,
        team=floor["team"],
        source=floor["source"],
        created_at=now - dt.timedelta(days=8),
        contact=ContactFactory(name="Борис Орлов", company="АО «Орион»"),
    )
    actions.send_to_nurture(
        later,
        rep,
        "после тендера",
        timezone.localdate() + dt.timedelta(days=40),
        at=now - dt.timedelta(days=7),
    )

    login(page, live_server, "marketer")
    page.goto(f"{live_server.url}/nurture/")
    rows = page.locator("table.nurture-list tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("table.nurture-list")).to_contain_text("после тендера")
    expect(page.locator("table.nurture-list")).to_contain_text("no date")
    assert page_scroll_width(page) <= 1366 + 1, f"the page scrolls sideways: {page_scroll_width(page)}px"
    shot(page, "nurture-page")

    page.locator("select[name=source]").select_option(str(floor["source"].pk))
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**source={floor['source'].pk}**")
    row = rows.filter(has_text="Анна Петрова")
    row.get_by_role("button", name=f"Return lead #{soon.pk} to sales").click()

    page.wait_for_url(f"**/nurture/?**source={floor['source'].pk}**")
    expect(page.locator(".messages")).to_contain_text(f"#{soon.pk}")
    expect(rows).to_have_count(1)
    assert Lead.objects.get(pk=soon.pk).stage.kind == "open"

    login(page, live_server, rep.username)
    page.goto(f"{live_server.url}/queue/")
    expect(page.locator("table.queue tr", has_text="Анна Петрова")).to_contain_text("Back from nurture")
