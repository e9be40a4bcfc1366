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
    expect(page.locator(".messages")).to_contain_text(f"Lead #{lead.pk}: attempt logged.")
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


def _overflowing(page) -> list[str]:
    """Elements that reach past the right edge of a phone screen (what makes it scroll sideways)."""
    return page.evaluate(
        """(width) => [...document.querySelectorAll("body *")]
             .filter((el) => el.getBoundingClientRect().right > width + 1 && !el.closest(".table-wrap"))
             .slice(0, 8).map((el) => el.tagName.toLowerCase() + "." + el.className + " " + Math.round(el.getBoundingClientRect().right))""",
        WIDTH,
    )


def test_every_working_page_fits_a_phone(page, live_server, floor):
    """No sideways scrolling at 390 px on the rep's and the head's pages."""
    from sla.models import Breach, SlaTimer

    leads = [
        new_lead(floor["source"], name=f"Клиент Номер {k}", company="ООО «Длинное название компании»",
                 phone=f"+7916123100{k}")
        for k in range(3)
    ]  # fmt: skip
    timer = SlaTimer.objects.filter(lead=leads[0]).first()
    Breach.objects.create(
        kind="first_contact", delay_owner="rep", due_at=timer.due_at, lead=leads[0], owner=floor["rep"],
        source=floor["source"], team=floor["team"], timer=timer,
    )  # fmt: skip
    login(page, live_server, "rep")
    for path in ["/queue/", f"/leads/{leads[0].pk}/", "/leads/"]:
        page.goto(f"{live_server.url}{path}")
        assert page_scroll_width(page) <= WIDTH + 1, (path, page_scroll_width(page), _overflowing(page))
    login(page, live_server, "head")
    for path in ["/team/", "/sla/breaches/", "/leads/", f"/leads/{leads[1].pk}/"]:
        page.goto(f"{live_server.url}{path}")
        assert page_scroll_width(page) <= WIDTH + 1, (path, page_scroll_width(page), _overflowing(page))
        shot(page, "phone_" + path.strip("/").replace("/", "_"))


def test_the_card_keeps_the_phone_number_and_the_outcomes_at_hand(page, live_server, floor):
    lead = new_lead(floor["source"], name="Анна Белова", company="ООО «Бриз»", phone="+79161239999")
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    bar = page.locator(".call-bar")
    expect(bar).to_be_visible()
    expect(bar.locator("a[href^='tel:']")).to_have_attribute("href", "tel:+79161239999")
    page.mouse.wheel(0, 3000)  # read down the card: the bar stays at the bottom of the screen
    page.wait_for_timeout(300)
    box = bar.bounding_box()
    assert box["y"] + box["height"] <= 844 + 1 and box["y"] > 844 - 200, box
    expect(bar.locator("button[value=no_answer]")).to_be_in_viewport()
