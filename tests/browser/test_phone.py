"""A phone in the hand (390×844): the queue and the card fit the width and the
outcome buttons are there to press."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_lead, page_scroll_width, shot

WIDTH = 390
pytestmark = pytest.mark.browser_context_args(
    locale="en-US", viewport={"width": WIDTH, "height": 844}, is_mobile=True, has_touch=True
)


def test_queue_and_card_fit_a_phone(page, live_server, floor):
    from leads.models import ContactAttempt

    lead = new_lead(
        floor["source"],
        name="Константин Александрович Червяков-Задунайский",
        company="ООО «Научно-производственное объединение „Северный ветер“»",
        phone="+79161230000",
        comment="Интересует внедрение на 3 филиала; звонить с 10 до 12.",
    )
    login(page, live_server, "rep")
    row = page.locator("table.queue tbody tr").first
    expect(row).to_contain_text("Червяков-Задунайский")
    expect(row.locator(".sla-badge")).to_be_visible()
    assert page_scroll_width(page) <= WIDTH + 1, f"the queue scrolls sideways: {page_scroll_width(page)}px"
    shot(page, "phone_queue")

    row.get_by_role("link").first.click()
    expect(page.locator("h1")).to_contain_text("Червяков-Задунайский")
    assert page_scroll_width(page) <= WIDTH + 1, f"the card scrolls sideways: {page_scroll_width(page)}px"
    for outcome in ["reached", "no_answer", "busy", "voicemail", "wrong_number"]:
        button = page.locator(f"#attempt-form button[value={outcome}]")
        button.scroll_into_view_if_needed()
        expect(button).to_be_in_viewport()
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH + 1, (outcome, box)
        assert box["height"] >= 24 and box["width"] >= 24, (outcome, box)  # WCAG 2.2 target size
    shot(page, "phone_lead_card")

    page.locator("#attempt-form button[value=reached]").tap()
    expect(page.locator(".messages")).to_contain_text("Attempt logged.")
    assert ContactAttempt.objects.filter(lead=lead, outcome="reached").exists()


def test_a_long_company_name_does_not_widen_the_card(page, live_server, floor):
    lead = new_lead(
        floor["source"],
        name="Константин Червяков",
        company="ООО «Трансэнергомашкомплект»",
        phone="+79161230001",
    )
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    assert page_scroll_width(page) <= WIDTH + 1, f"the card scrolls sideways: {page_scroll_width(page)}px"
