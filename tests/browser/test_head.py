"""The head of sales sees a breach appear on the board, acknowledges it and
gives the lead to another rep."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import login, new_lead, shot
from tests.factories import UserFactory

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def test_the_head_acknowledges_a_breach_and_reassigns_the_lead(page, live_server, floor):
    from revops.roles import Role
    from sla.models import Breach, SlaPolicy
    from sla.sweep import sweep

    SlaPolicy.objects.filter(is_default=True).update(first_contact_seconds=1)
    # The lead came in three seconds ago; its one-second budget is gone.
    arrived = timezone.now() - dt.timedelta(seconds=3)
    lead = new_lead(
        floor["source"],
        name="Мария Орлова",
        company="ООО «Гранит»",
        phone="+79031112233",
        received_at=arrived,
    )
    assert lead.owner == floor["rep"]
    # Another rep joins the team after the lead was given out.
    teammate = UserFactory(
        username="teammate", first_name="Денис", last_name="Кузнецов", role=Role.REP, team=floor["team"]
    )

    assert sweep().breached == 1

    login(page, live_server, "head")
    expect(page).to_have_url(re.compile(r"/team/$"))  # a head starts on the board
    expect(page.get_by_role("heading", name="Team A")).to_be_visible()
    reps = page.locator("section").filter(has=page.get_by_role("heading", name="Reps today"))
    expect(reps.locator("tr").filter(has_text="Олег Смирнов")).to_contain_text("on shift")
    kpi = page.locator(".kpis li").filter(has_text="breaches today")
    expect(kpi.locator(".kpi-value")).to_have_text("1")

    breaches = page.locator("#breaches")
    row = breaches.locator("tbody tr").filter(has_text="Мария Орлова")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"#{lead.pk}")
    expect(row).to_contain_text("First contact")
    expect(row).to_contain_text("Олег Смирнов")
    expect(row.locator(".tag").first).to_contain_text("Rep")
    shot(page, "team_board")

    # Acknowledge, with a word on what happens next.
    row.get_by_label("Comment").fill("Олег на встрече, передаю Денису")
    row.get_by_role("button", name="Acknowledge").click()
    expect(page).to_have_url(re.compile(r"/team/$"))
    row = page.locator("#breaches tbody tr").filter(has_text="Мария Орлова")
    expect(row).to_contain_text("acknowledged")
    expect(row.get_by_role("button", name="Acknowledge")).to_have_count(0)

    # Reassign from the board.
    expect(row.get_by_label("Give to")).to_have_value("")  # never preselected
    row.get_by_label("Give to").select_option(str(teammate.pk))
    row.get_by_role("button", name="Reassign").click()
    expect(page).to_have_url(re.compile(r"/team/$"))
    expect(page.locator(".messages")).to_contain_text(f"Lead #{lead.pk} is now Денис Кузнецов's.")

    lead.refresh_from_db()
    assert lead.owner.username == "teammate"
    breach = Breach.objects.get(lead=lead)
    assert breach.acknowledged_at is not None and breach.acknowledged_by == floor["head"]
    assert breach.delay_owner == "rep"

    # The breaches page tells the same story.
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="SLA breaches").click()
    expect(page.get_by_role("heading", name=re.compile("SLA breaches"))).to_be_visible()
    row = page.locator("table tbody tr").filter(has_text="Мария Орлова")
    expect(row).to_contain_text("Rep")
    expect(row).to_contain_text("acknowledged by Ирина Волкова")
    expect(row.get_by_role("button", name="Resolve")).to_be_visible()
    shot(page, "breaches")

    # The card shows the new owner and the reassignment in its timeline.
    row.get_by_role("link", name=re.compile("Мария Орлова")).click()
    expect(page.locator(".tags")).to_contain_text("Owner: Денис Кузнецов")
    expect(page.locator("#timeline")).to_contain_text("Assigned to Денис Кузнецов")
    expect(page.locator("#timeline")).to_contain_text("SLA missed")
