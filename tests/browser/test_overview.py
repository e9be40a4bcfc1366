"""Marketing's view: the home page's numbers, the lead list and
its filters; and a rep who tries someone else's lead meets the 404 page."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, shot, sign_out
from tests.factories import ContactFactory, DealFactory, LeadFactory, SourceFactory, UserFactory, stage

pytestmark = pytest.mark.browser_context_args(locale="en-US")


@pytest.fixture
def company(floor, teammate):
    """A small company's pipeline: open leads of two reps, one waiting, a deal, a rejection."""
    from leads.models import RejectionReason

    rep, source = floor["rep"], floor["source"]
    expo = SourceFactory(code="expo", name="Выставка")

    def lead(name, company, **kwargs):
        return LeadFactory(contact=ContactFactory(name=name, company=company), **kwargs)

    leads = {
        "open": lead("Анна Петрова", "ООО «Ромашка»", owner=rep, source=source),
        "teammates": lead("Игорь Белов", "ООО «Северсталь-Сервис»", owner=teammate, source=source),
        "waiting": lead("Светлана Ким", "ИП Ким", source=expo, team=floor["team"]),
        "won": lead(
            "Павел Громов",
            "АО «Техномаш»",
            owner=rep,
            source=expo,
            stage=stage("deal"),
            qualification="sql",
        ),
        "lost": lead(
            "Ольга Лис",
            "ООО «Лис и партнёры»",
            owner=teammate,
            source=source,
            stage=stage("lost"),
            rejection_reason=RejectionReason.objects.get(code="price"),
        ),
    }
    DealFactory(lead=leads["won"], amount=900000, margin=250000)
    return leads


def test_marketing_sees_the_numbers_and_filters_the_list(page, live_server, company):
    # The overview is the home of marketing (and admins); the CEO's home is the
    # KPI dashboard (tests/browser/test_kpi_dashboard_browser.py).
    UserFactory(username="marketing_head", first_name="Андрей", role="marketing_head")
    login(page, live_server, "marketing_head")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Андрей")

    def kpi(label):
        return page.locator(".kpis li").filter(
            has=page.locator(".kpi-label", has_text=re.compile(f"^{label}$"))
        )

    for label, value in [
        ("open leads", "3"),
        ("waits for an owner", "1"),  # counter labels agree with their number
        ("SQL", "1"),
        ("lead won", "1"),
        ("lead rejected", "1"),
        ("in nurture", "0"),
    ]:
        expect(kpi(label).locator(".kpi-value")).to_have_text(value)
    latest = page.locator("section").filter(has=page.get_by_role("heading", name="Latest leads"))
    expect(latest.locator("tbody tr")).to_have_count(5)
    shot(page, "home_ceo")

    # Every number is a link to the records behind it.
    kpi("waits for an owner").get_by_role("link").click()
    expect(page.locator("table.leads tbody tr")).to_have_count(1)
    expect(page.locator("table.leads")).to_contain_text("Светлана Ким")
    expect(page.locator("table.leads")).to_contain_text("unassigned")

    # The list and its filters.
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Leads").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("5")
    expect(page.locator("table.leads tbody tr")).to_have_count(5)
    shot(page, "lead_list")
    filters = page.get_by_role("form", name="Filter leads")
    filters.get_by_label("Source").select_option(label="Сайт")
    filters.get_by_role("button", name="Apply").click()
    expect(page.locator("table.leads tbody tr")).to_have_count(3)
    expect(filters.get_by_label("Source")).to_have_value(str(company["open"].source_id))
    filters.get_by_label("Search").fill("Ромашка")
    filters.get_by_role("button", name="Apply").click()
    rows = page.locator("table.leads tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Анна Петрова")
    expect(rows).to_contain_text("Олег Смирнов")
    filters.get_by_role("link", name="Reset").click()
    expect(page.locator("table.leads tbody tr")).to_have_count(5)

    # The head of marketing reads a card but cannot work it.
    page.get_by_role("link", name="Павел Громов").click()
    expect(page.locator(".tags .status")).to_have_text("Deal")
    expect(page.locator("#attempt-form")).to_have_count(0)
    expect(page.get_by_role("heading", name="Deals of this contact")).to_be_visible()


def test_the_marketer_reads_every_lead_and_a_rep_gets_404_for_someone_elses(page, live_server, company):
    UserFactory(username="marketer", role="marketer")
    login(page, live_server, "marketer")
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Leads").click()
    filters = page.get_by_role("form", name="Filter leads")
    filters.get_by_label("Status").select_option(["lost"])
    filters.get_by_role("button", name="Apply").click()
    rows = page.locator("table.leads tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name="Ольга Лис").click()
    expect(page.locator(".banner-lost")).to_contain_text("Rejected: Price")
    expect(page.locator("#attempt-form")).to_have_count(0)  # marketing reads, never works a lead
    expect(page.locator("#s-stage")).to_have_count(0)

    sign_out(page)
    login(page, live_server, "rep")
    response = page.goto(f"{live_server.url}/leads/{company['teammates'].pk}/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("main")).to_contain_text("not yours to see")
    expect(page.locator("main")).not_to_contain_text("Игорь Белов")
    # The way back is there, and the rep's own lead opens.
    page.locator("main").get_by_role("link", name="Home").click()
    expect(page).to_have_url(re.compile(r"/queue/$"))
    page.get_by_role("link", name="Анна Петрова").click()
    expect(page.locator("h1")).to_contain_text("Анна Петрова")
