"""A rejection disputed and decided, in Chromium (issue #15): a marketer disputes a
rep's rejection on the lead's card; the head of the rep's team finds it on
/disputes/, opens the card and overturns it; the lead is back in the rep's queue
with a fresh clock. A second story: the head upholds, and the lead stays rejected."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_lead, page_scroll_width, shot, unnamed_controls

pytestmark = pytest.mark.browser_context_args(locale="en-US")


@pytest.fixture
def rejected(floor, marketer):
    from leads import actions

    marketer.first_name, marketer.last_name = "Мария", "Лебедева"
    marketer.save()
    lead = new_lead(floor["source"], name="Анна Петрова", phone="+79161234567", company="ООО «Ромашка»")
    assert lead.owner == floor["rep"]
    actions.log_attempt(lead, floor["rep"], channel="call", outcome="reached")
    actions.reject(lead, floor["rep"], "not_target", "маленькая компания")
    return lead


def dispute_on_the_card(page, live_server, lead):
    login(page, live_server, "marketer")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.locator(".banner-lost")).to_contain_text("Not a target client")
    card = page.locator("#disputes")
    card.get_by_label("Why this lead was ours").fill("Это наш ICP: 40 сотрудников, просили КП")
    shot(page, "dispute_marketer_card")
    card.get_by_role("button", name="Dispute the rejection").click()
    expect(page.locator(".messages")).to_contain_text(f"Lead #{lead.pk}: the rejection is disputed")
    expect(page.locator("#disputes")).to_contain_text("Awaiting decision")
    expect(page.locator("#disputes")).to_contain_text("left")  # the deadline in words
    expect(page.get_by_role("button", name="Dispute the rejection")).to_have_count(0)
    assert unnamed_controls(page) == []


def test_a_marketer_disputes_and_the_head_overturns(page, live_server, floor, rejected):
    from leads.models import Lead
    from sla.models import SlaTimer, TimerState

    lead = rejected
    dispute_on_the_card(page, live_server, lead)

    login(page, live_server, "head")
    page.goto(f"{live_server.url}/disputes/")
    row = page.locator("table.disputes tbody tr").first
    expect(row).to_contain_text(f"#{lead.pk}")
    expect(row).to_contain_text("Awaiting decision")
    shot(page, "disputes_list_head")
    assert unnamed_controls(page) == []
    row.get_by_role("link", name=re.compile(f"#{lead.pk}")).click()
    card = page.locator("#disputes")
    expect(card).to_contain_text("Это наш ICP")
    card.get_by_label("Your decision's comment (optional)").fill("Согласна, вернуть в работу")
    shot(page, "dispute_head_decides")
    assert unnamed_controls(page) == []
    card.get_by_role("button", name="Overturn: back to sales").click()
    expect(page.locator(".messages")).to_contain_text("rejection overturned, the lead is back in sales")
    expect(page.locator(".banner-lost")).to_have_count(0)
    expect(page.locator("#disputes")).to_contain_text("Rejection overturned")
    expect(page.locator("#timeline")).to_contain_text("reopened: the rejection was overturned on dispute")

    fresh = Lead.objects.select_related("stage").get(pk=lead.pk)
    assert fresh.stage.kind == "open" and fresh.owner == floor["rep"] and fresh.rejection_reason is None
    assert SlaTimer.objects.filter(lead=lead, state=TimerState.RUNNING).exists()

    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/queue/")
    expect(page.locator("main")).to_contain_text("Анна Петрова")
    shot(page, "dispute_back_in_queue")


def test_the_head_upholds_and_the_lead_stays_rejected(page, live_server, floor, rejected):
    from leads.models import Lead

    lead = rejected
    dispute_on_the_card(page, live_server, lead)
    login(page, live_server, "head")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    page.locator("#disputes").get_by_role("button", name="Uphold the rejection").click()
    expect(page.locator(".messages")).to_contain_text("rejection upheld")
    expect(page.locator("#disputes")).to_contain_text("Rejection upheld")
    assert Lead.objects.get(pk=lead.pk).stage.kind == "lost"


@pytest.mark.browser_context_args(locale="ru-RU", viewport={"width": 390, "height": 844})
def test_the_list_reads_on_a_phone_in_russian(page, live_server, floor, rejected):
    from leads import disputes
    from revops.models import User

    disputes.open_dispute(rejected, User.objects.get(username="marketer"), "Наш клиент")
    login(page, live_server, "marketer")
    page.goto(f"{live_server.url}/disputes/")
    expect(page.locator("h1")).to_contain_text("Оспоренные отказы")
    expect(page.locator("table.disputes")).to_contain_text("Ждёт решения")
    assert page_scroll_width(page) <= 390
    shot(page, "disputes_list_phone_ru")
