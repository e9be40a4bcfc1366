"""The rep's main paths: a new lead nobody answers ends in nurture; a lead that
answers is qualified and walked to a deal."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import blur, login, new_lead, shot

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def test_three_unanswered_calls_send_a_new_lead_to_nurture(page, live_server, floor):
    from leads.models import ContactAttempt

    lead = new_lead(
        floor["source"],
        name="Анна Петрова",
        company="ООО «Ромашка»",
        phone="+79161234567",
        comment="Нужна CRM на 20 менеджеров, перезвоните после обеда.",
    )
    assert lead.owner == floor["rep"], "the distribution rules give the lead to the rep on shift"

    login(page, live_server, "rep")
    # A rep starts in the queue.
    expect(page).to_have_url(re.compile(r"/queue/$"))
    expect(page.get_by_role("heading", name="My queue")).to_be_visible()
    expect(page.locator(".work-summary")).to_contain_text("1 lead waits for a first call")
    row = page.locator("table.queue tbody tr").filter(has_text="Анна Петрова")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("ООО «Ромашка»")
    expect(row).to_contain_text("call now")
    badge = row.locator(".sla-badge")
    expect(badge).to_have_class(re.compile(r"\bsla-ok\b"))
    expect(badge).to_have_text(re.compile(r"^1[45] min left$"))
    shot(page, "queue")

    # Work mode opens the most urgent lead.
    page.get_by_role("link", name=re.compile("Start working")).click()
    expect(page).to_have_url(re.compile(rf"/leads/{lead.pk}/\?work=1$"))
    expect(page.locator(".work-banner")).to_contain_text("Work mode")
    expect(page.locator("h1")).to_contain_text("Анна Петрова")
    expect(page.locator("blockquote")).to_contain_text("Нужна CRM")
    no_answer = page.locator("#attempt-form button[value=no_answer]")
    expect(no_answer).to_contain_text("No answer")
    expect(no_answer).to_contain_text("1 of 3")
    expect(no_answer).not_to_contain_text("nurture")
    shot(page, "lead_card")

    # Call 1, in work mode: nothing else is urgent, so the rep is back in the queue.
    no_answer.click()
    expect(page).to_have_url(re.compile(r"/queue/"))
    expect(page.locator(".messages")).to_contain_text(f"Lead #{lead.pk}: attempt logged.")
    row = page.locator("table.queue tbody tr").filter(has_text="Анна Петрова")
    expect(row.locator("td.num")).to_have_text("1")
    expect(row).to_contain_text("try again")

    # Call 2, by the keyboard: "2" is "No answer" when the focus is not in a field.
    row.get_by_role("link", name="Анна Петрова").click()
    expect(page).to_have_url(re.compile(rf"/leads/{lead.pk}/$"))
    expect(no_answer).to_contain_text("2 of 3")
    blur(page)
    with page.expect_navigation():
        page.keyboard.press("2")
    expect(page.locator(".messages")).to_contain_text(f"Lead #{lead.pk}: attempt logged.")
    expect(no_answer).to_contain_text("3 of 3 → nurture")
    expect(page.locator("#attempt-form button[value=busy]")).to_contain_text("3 of 3 → nurture")
    expect(page.locator("#attempt-form button[value=reached]")).to_contain_text("first contact made")

    # Call 3: the lead goes to nurture, with the reason on the card.
    page.locator("#attempt-form button[value=busy]").click()
    expect(page.locator(".undo-offer")).to_contain_text(
        f"Lead #{lead.pk} went to nurture: 3 unanswered calls."
    )
    expect(page.locator(".undo-offer").get_by_role("button", name="Undo")).to_be_visible()
    expect(page.locator(".banner-nurture")).to_contain_text("In nurture: 3 unanswered calls")
    expect(page.locator(".tags .status")).to_have_text("Nurture")
    expect(page.locator(".tags .status")).to_have_class(re.compile(r"status-nurture"))
    expect(page.locator("#attempt-form")).to_have_count(0)  # nothing more to log on a closed lead
    timeline = page.locator("#timeline")
    expect(timeline.locator("li.tl-attempt")).to_have_count(3)
    expect(timeline).to_contain_text("Call: Busy")
    expect(timeline).to_contain_text("New lead → Nurture")

    # And it has left the queue.
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="My queue").click()
    expect(page.locator("table.queue")).to_have_count(0)
    expect(page.locator("p.empty")).to_contain_text("Your queue is empty")

    lead.refresh_from_db()
    assert lead.stage.code == "nurture" and lead.status == "nurture"
    assert ContactAttempt.objects.filter(lead=lead, counted=True).count() == 3


def test_a_reached_lead_is_qualified_and_walked_to_a_deal(page, live_server, floor):
    lead = new_lead(floor["source"], name="Пётр Ильин", company="АО «Вектор»", phone="+79167654321")
    login(page, live_server, "rep")
    page.get_by_role("link", name="Пётр Ильин").click()
    expect(page).to_have_url(re.compile(rf"/leads/{lead.pk}/$"))

    # The client answers.
    page.locator("#attempt-form button[value=reached]").click()
    expect(page.locator(".messages")).to_contain_text(f"Lead #{lead.pk}: attempt logged.")
    expect(page.locator("#sla-badge")).to_have_text("contacted")

    # The checklist: every criterion "yes" makes the lead an SQL.
    checklist = page.locator("section").filter(
        has=page.get_by_role("heading", name="Qualification checklist")
    )
    expect(checklist.locator(".hint").first).to_contain_text("Missing for the next level")
    yes = checklist.locator("input[type=radio][value=yes]")
    expect(yes).to_have_count(8)
    for radio in yes.all():
        radio.check()
    checklist.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text(f"Lead #{lead.pk}: checklist saved, SQL.")
    expect(page.locator(".tags .tag").first).to_have_text("SQL")
    expect(page.locator("#check-h .tag")).to_have_text("SQL")
    expect(page.locator("#timeline")).to_contain_text("Qualification changed")

    stage_form = page.locator("section").filter(has=page.get_by_role("heading", name="Move along the funnel"))

    def move(stage: str, **fields):
        stage_form.get_by_label("Stage").select_option(label=stage)
        for label, value in fields.items():
            stage_form.get_by_label(label).fill(value)
        stage_form.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".messages")).to_contain_text(f"Lead #{lead.pk}: now at {stage}.")
        expect(page.locator(".path li.current")).to_have_text(stage)

    # A meeting without its date is refused, with the reason.
    stage_form.get_by_label("Stage").select_option(label="Meeting / demo")
    stage_form.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages .msg-error")).to_contain_text("meeting")
    # Reaching the client already moved the lead to qualification.
    expect(page.locator(".path li.current")).to_have_text("Qualification")

    meeting = timezone.localtime() + dt.timedelta(days=3)
    move("Meeting / demo", **{"Meeting at": meeting.strftime("%Y-%m-%dT11:00")})
    # In the dates every page uses (revops/display.py): "8 Dec 2026, 11:00".
    expect(page.locator("#timeline")).to_contain_text(f"meeting at {meeting.day} {meeting:%b %Y}, 11:00")
    move("Proposal sent", Amount="480000")
    move("Deal", Amount="450000", Margin="135000")

    expect(page.locator(".tags .status")).to_have_text("Deal")
    expect(page.locator(".tags .status")).to_have_class(re.compile(r"status-won"))
    contact = page.locator("section").filter(has=page.get_by_role("heading", name="Contact and context"))
    expect(contact.get_by_role("heading", name="Deals of this contact")).to_be_visible()
    expect(contact.locator("ul").last).to_contain_text(re.compile(r"450,000\s₽ · Won"))
    expect(page.locator("#attempt-form")).to_have_count(0)
    shot(page, "lead_card_won")

    lead.refresh_from_db()
    assert (lead.stage.code, lead.status, lead.qualification) == ("deal", "won", "sql")
    deal = lead.deals.get()
    assert (deal.amount, deal.margin) == (450000, 135000)
