"""Russian by default; the switch in the top bar changes the language and back."""

from playwright.sync_api import expect

from tests.browser.helpers import login


def test_the_switch_changes_the_language_and_back(page, live_server, floor):
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    sign_out = page.locator(".topbar form[action='/logout/'] button")
    expect(sign_out).to_have_text("Выйти")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Лиды")
    switch = page.locator(".lang-switch")
    expect(switch.get_by_role("button", name="RU")).to_have_attribute("aria-pressed", "true")

    with page.expect_navigation():
        switch.get_by_role("button", name="EN").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(sign_out).to_have_text("Sign out")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Leads")
    expect(switch.get_by_role("button", name="EN")).to_have_attribute("aria-pressed", "true")
    # The choice sticks across pages.
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="My queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My queue")
    expect(sign_out).to_have_text("Sign out")

    with page.expect_navigation():
        switch.get_by_role("button", name="RU").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(sign_out).to_have_text("Выйти")
    expect(page).to_have_url(f"{live_server.url}/queue/")  # the switch keeps the rep on the same page
    expect(page.get_by_role("heading", level=1)).to_have_text("Моя очередь")
    expect(switch.get_by_role("button", name="RU")).to_have_attribute("aria-pressed", "true")
