"""Sales' feedback reaches marketing (issue #15), in the browser: a rep writes
feedback on a card, a marketer takes it into work with a reply at /feedback/,
and the rep reads the reply from the bell, under the feedback on the card."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, shot, unnamed_controls

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def test_a_rep_writes_feedback_and_reads_marketings_reply(page, live_server, floor):
    from leads.models import Feedback
    from revops.roles import Role
    from tests.factories import ContactFactory, LeadFactory, UserFactory

    UserFactory(username="marketer", role=Role.MARKETER, first_name="Мария", last_name="Лебедева")
    lead = LeadFactory(
        owner=floor["rep"],
        source=floor["source"],
        contact=ContactFactory(name="Анна Петрова", company="ИП Петрова"),
    )

    # The rep: feedback on the card, a topic from the list and free text.
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    form = page.locator("form[action$='/do/note/']")
    form.get_by_label("Kind").select_option("wrong_segment")
    form.get_by_label("Text").fill("Это розница на 2 кассы, а реклама обещала решение для сетей")
    form.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text(f"Lead #{lead.pk}: feedback sent to marketing.")
    item = page.locator("#timeline li").filter(has_text="Feedback for marketing · Wrong segment")
    expect(item).to_contain_text("Это розница на 2 кассы")
    expect(item).to_contain_text("waiting for marketing's reply")
    feedback = Feedback.objects.get(lead=lead)

    # The marketer: the menu leads to /feedback/, counted by topic and source.
    login(page, live_server, "marketer")
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Feedback").click()
    expect(page).to_have_url(re.compile(r"/feedback/$"))
    expect(page.get_by_role("heading", name="Feedback from sales")).to_be_visible()
    expect(page.locator(".feedback-counts")).to_contain_text("Wrong segment")
    expect(page.locator(".feedback-counts")).to_contain_text("Сайт")
    card = page.locator(f"#feedback-{feedback.pk}")
    expect(card).to_contain_text("Это розница на 2 кассы")
    expect(card).to_contain_text("Олег Смирнов")
    expect(card.get_by_role("link", name=f"Lead #{lead.pk}")).to_be_visible()
    assert unnamed_controls(page) == []
    # The topic filter narrows the list.
    page.get_by_label("Topic", exact=True).select_option("wrong_segment")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"topic=wrong_segment"))
    card.get_by_label("Reply to the rep").fill(
        "Спасибо! Убираем сети из объявления, для розницы — отдельная кампания"
    )
    shot(page, "feedback_page")
    card.get_by_role("button", name="Take into work").click()
    expect(page.locator(".messages")).to_contain_text(f"Feedback on lead #{lead.pk} is taken into work")
    expect(page).to_have_url(re.compile(r"topic=wrong_segment"))
    expect(card).to_contain_text("Taken into work")
    expect(card).to_contain_text("Убираем сети из объявления")
    expect(card.get_by_role("button", name="Take into work")).to_have_count(0)

    # The rep: the bell says marketing replied and leads to the card, where the reply
    # is under the feedback.
    login(page, live_server, "rep")
    bell = page.locator("#bell")
    expect(bell.locator(".bell-count")).to_have_text("1")
    bell.locator("summary").click()
    bell.get_by_role("link", name=f"Marketing replied to your feedback on lead #{lead.pk}").click()
    expect(page).to_have_url(re.compile(rf"/leads/{lead.pk}/$"))
    item = page.locator("#timeline li").filter(has_text="Feedback for marketing · Wrong segment")
    reply = item.locator(".feedback-reply")
    expect(reply).to_contain_text("Marketing's reply")
    expect(reply).to_contain_text("Мария Лебедева")
    expect(reply).to_contain_text("Убираем сети из объявления")
    expect(item).not_to_contain_text("waiting for marketing's reply")
    expect(page.locator("#timeline li").filter(has_text="Marketing replied to feedback")).to_have_count(1)
    item.scroll_into_view_if_needed()
    shot(page, "feedback_reply_on_card")
