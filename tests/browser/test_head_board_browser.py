"""The head's board in the browser (issue #14): the problems are highlighted
and counted at the top, a new waiting lead shows up without a reload, and the
head acknowledges two breaches and reassigns their leads in one go each, then
hands an absent rep's leads over."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import login, new_lead, shot
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def test_the_head_sees_the_problems_and_acts_on_them_in_bulk(page, live_server, floor):
    from leads.models import Lead
    from revops.models import Absence
    from revops.roles import Role
    from sla.models import Breach, SlaPolicy
    from sla.sweep import sweep

    SlaPolicy.objects.filter(is_default=True).update(first_contact_seconds=1)
    arrived = timezone.now() - dt.timedelta(seconds=3)
    first = new_lead(floor["source"], name="Мария Орлова", company="ООО «Гранит»", phone="+79031112233",
                     received_at=arrived)  # fmt: skip
    second = new_lead(floor["source"], name="Пётр Лебедев", company="ООО «Вектор»", phone="+79031112244",
                      received_at=arrived)  # fmt: skip
    assert first.owner == second.owner == floor["rep"]
    assert sweep().breached == 2
    # Joined after the leads were given out: Денис is on shift, Анна is away today with a lead.
    denis = UserFactory(
        username="denis", first_name="Денис", last_name="Кузнецов", role=Role.REP, team=floor["team"]
    )
    anna = UserFactory(
        username="anna", first_name="Анна", last_name="Петрова", role=Role.REP, team=floor["team"]
    )
    annas = LeadFactory(owner=anna)
    Absence.objects.create(user=anna, starts_on=timezone.localdate(), ends_on=timezone.localdate())
    waiting = LeadFactory(owner=None, team=floor["team"], created_at=timezone.now() - dt.timedelta(days=3))

    login(page, live_server, "head")
    expect(page).to_have_url(re.compile(r"/team/$"))
    problems = page.get_by_role("list", name="Problems now")
    tiles = problems.locator("a.problem")
    expect(tiles).to_have_count(3)  # all three highlighted
    expect(problems.locator("li").nth(0)).to_contain_text("1")
    expect(problems.locator("li").nth(0)).to_contain_text("lead waits for an owner")
    expect(problems.locator("li").nth(0)).to_contain_text("72 h 00 min of working time")  # 24/7 calendar
    expect(problems.locator("li").nth(1)).to_contain_text("absent rep holds open leads")
    expect(problems.locator("li").nth(2)).to_contain_text("2")
    expect(problems.locator("li").nth(2)).to_contain_text("breaches not acknowledged")
    expect(page.locator("#absent")).to_contain_text("Анна Петрова is absent and holds 1 open lead.")
    expect(page.locator("#waiting tbody tr")).to_contain_text(f"#{waiting.pk}")
    breaches = page.locator("#breaches tbody tr")
    expect(breaches).to_have_count(2)
    expect(breaches.first).to_have_class(re.compile("unacknowledged"))
    expect(breaches.first).to_contain_text("still waiting")
    shot(page, "head_board_problems")

    # A lead arrives with nobody to take it: the board counts it without a reload.
    later = LeadFactory(owner=None, team=floor["team"])
    expect(problems.locator("li").nth(0).locator(".kpi-value")).to_have_text("2", timeout=15_000)
    expect(page.locator("#waiting tbody tr").filter(has_text=f"#{later.pk}")).to_have_count(1)

    # Bulk acknowledge: tick both, one comment.
    page.locator("#breaches").get_by_label("All").check()
    page.locator("#bulk-comment").fill("Олег на встрече")
    page.get_by_role("button", name="Acknowledge chosen").click()
    ids = ", ".join(f"#{pk}" for pk in sorted([first.pk, second.pk]))
    expect(page.locator(".messages")).to_contain_text(f"Leads {ids}: breaches acknowledged.")
    expect(problems.locator("li").nth(2).locator("a")).not_to_have_class(re.compile(r"(^|\s)problem(\s|$)"))
    expect(page.locator("#breaches tbody tr").filter(has_text="acknowledged")).to_have_count(2)
    assert (
        Breach.objects.filter(acknowledged_by=floor["head"], comment__contains="Олег на встрече").count() == 2
    )

    # Bulk reassign: only Денис is offered (Анна is absent, Олег owns the leads), nobody preselected.
    owner = page.locator("#bulk-owner")
    expect(owner).to_have_value("")
    labels = owner.locator("option").all_inner_texts()
    assert any("Денис Кузнецов · on shift" in label for label in labels), labels
    assert not any("Анна" in label for label in labels), labels
    for checkbox in page.locator("#breaches tbody input[type=checkbox]").all():
        checkbox.check()
    owner.select_option(str(denis.pk))
    page.get_by_role("button", name="Reassign chosen").click()
    expect(page.locator(".messages")).to_contain_text(f"Leads {ids} are now Денис Кузнецов's.")
    expect(page.locator("#breaches tbody tr").first).to_contain_text("reassigned, not called yet")
    assert set(Lead.objects.filter(pk__in=[first.pk, second.pk]).values_list("owner", flat=True)) == {
        denis.pk
    }
    shot(page, "head_board_after_bulk")

    # Hand Анна's lead over to Денис.
    page.locator("#absent").get_by_label("Hand over to").select_option(str(denis.pk))
    page.locator("#absent").get_by_role("button", name="Hand over").click()
    expect(page.locator(".messages")).to_contain_text(
        f"Lead #{annas.pk} of Анна Петрова is now Денис Кузнецов's."
    )
    expect(page.locator("#absent")).to_have_count(0)
    assert Lead.objects.get(pk=annas.pk).owner == denis


def test_marking_a_rep_absent_offers_to_hand_the_leads_over(page, live_server, floor):
    LeadFactory(owner=floor["rep"])
    LeadFactory(owner=floor["rep"])
    login(page, live_server, "head")
    row = (
        page.locator("section")
        .filter(has=page.get_by_role("heading", name="Reps today"))
        .locator("tr")
        .filter(has_text="Олег Смирнов")
    )
    row.get_by_role("button", name="Absent today").click()
    expect(page.locator(".messages")).to_contain_text(
        "Олег Смирнов is absent today and still holds 2 open leads"
    )
    expect(page.locator("#absent")).to_contain_text("Олег Смирнов is absent and holds 2 open leads.")
    expect(page.locator("#absent").get_by_label("Hand over to")).to_have_value("")
