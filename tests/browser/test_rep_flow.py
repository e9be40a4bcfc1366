"""The rep's flow, second pass (issue #14), in Chromium: a reached client keeps the
rep on the lead until "Done → next"; nurture and reject can be undone; a call that
would send a hot lead to nurture asks first; saving the checklist keeps what was
typed and work mode; a planned next step shows on the card and in the queue."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import login, new_lead, shot

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def test_reached_means_stay_then_done_moves_on(page, live_server, floor):
    from leads.models import Lead

    first = new_lead(floor["source"], name="Анна Петрова", phone="+79161234567", company="ООО «Ромашка»")
    second = new_lead(floor["source"], name="Борис Орлов", phone="+79161234568", company="ООО «Ромашка»")
    login(page, live_server, "rep")
    page.get_by_role("link", name=re.compile("Start working")).click()
    expect(page).to_have_url(re.compile(rf"/leads/{first.pk}/\?work=1$"))

    page.locator("#attempt-form button[value=reached]").click()
    # Still on the same lead, with the checklist, stage and meeting at hand.
    expect(page).to_have_url(re.compile(rf"/leads/{first.pk}/\?work=1&reached=1#after-contact$"))
    panel = page.locator("#after-contact")
    expect(panel).to_have_class(re.compile(r"after-contact"))
    expect(panel.locator(".work-banner")).to_contain_text("Reached")
    for radio in panel.locator("input[type=radio][value=yes]").all():
        radio.check()
    panel.get_by_label("Stage").select_option(label="Meeting / demo")
    meeting = timezone.localtime() + dt.timedelta(days=2)
    panel.get_by_label("Meeting at").fill(meeting.strftime("%Y-%m-%dT11:00"))
    shot(page, "card_after_contact")
    panel.get_by_role("button", name="Done → next").click()

    expect(page).to_have_url(re.compile(rf"/leads/{second.pk}/\?work=1$"))
    lead = Lead.objects.get(pk=first.pk)
    assert (lead.stage.code, lead.qualification, lead.next_step) == ("meeting", "sql", "meeting")


def test_a_rejection_is_undone_from_the_message(page, live_server, floor):
    from leads.models import Lead

    lead = new_lead(floor["source"], name="Анна Петрова", phone="+79161234567", company="ООО «Ромашка»")
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    page.get_by_label("Rejection reason").select_option(label="No budget")
    page.get_by_role("button", name="Reject").click()
    offer = page.locator(".undo-offer")
    expect(offer).to_contain_text(f"Lead #{lead.pk} rejected: No budget.")
    assert 0 < int(offer.get_attribute("data-undo-for")) <= 10_000
    offer.get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text(f"Lead #{lead.pk}: undone, back at New lead.")
    expect(page.locator(".tags .status")).to_have_text("New lead")
    expect(page.locator("#timeline")).to_contain_text("Lost → New lead")
    assert Lead.objects.get(pk=lead.pk).stage.code == "lead"


def test_a_call_that_would_nurture_an_urgent_lead_asks_first(page, live_server, floor):
    from leads import actions
    from leads.models import ContactAttempt, Lead

    lead = new_lead(floor["source"], name="Анна Петрова", phone="+79161234567", company="ООО «Ромашка»")
    Lead.objects.filter(pk=lead.pk).update(priority="urgent")
    for _ in range(2):
        actions.log_attempt(Lead.objects.get(pk=lead.pk), floor["rep"], channel="call", outcome="no_answer")
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#attempt-form button[value=no_answer]").click()
    page.wait_for_timeout(300)
    assert ContactAttempt.objects.filter(lead=lead).count() == 2  # "Cancel" logs nothing

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#attempt-form button[value=no_answer]").click()
    expect(page.locator(".undo-offer")).to_contain_text(f"Lead #{lead.pk} went to nurture")
    assert Lead.objects.get(pk=lead.pk).stage.code == "nurture"


def test_saving_the_checklist_keeps_the_note_and_work_mode_and_plans_the_next_step(page, live_server, floor):
    from leads import actions
    from leads.models import Lead

    lead = new_lead(floor["source"], name="Анна Петрова", phone="+79161234567", company="ООО «Ромашка»")
    actions.log_attempt(lead, floor["rep"], channel="call", outcome="reached")
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/{lead.pk}/?work=1")
    expect(page.locator(".tags .no-next-step")).to_contain_text("no next step")

    page.locator("#a-note").fill("Перезвонить в пятницу, говорить с финдиректором")
    page.locator("#after-contact input[type=radio][value=yes]").first.check()
    callback = timezone.localtime() + dt.timedelta(days=1)
    page.get_by_label("Call back at").fill(callback.strftime("%Y-%m-%dT10:30"))
    page.locator("#after-contact").get_by_role("button", name="Save", exact=True).click()

    expect(page).to_have_url(re.compile(rf"/leads/{lead.pk}/\?work=1$"))  # still in work mode
    expect(page.locator(".messages")).to_contain_text("note saved")
    expect(page.locator("#timeline")).to_contain_text("Перезвонить в пятницу")
    expect(page.locator(".tags .tag-next")).to_contain_text("call back")
    assert Lead.objects.get(pk=lead.pk).next_step == "call"

    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="My queue").click()
    row = page.locator("table.queue tbody tr").filter(has_text="Анна Петрова")
    expect(row).to_contain_text("call back")
    expect(row).not_to_contain_text("qualify and move on")
