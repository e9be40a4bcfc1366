"""The card's keyboard: "?" shows the shortcuts; nothing fires while typing."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import blur, login, new_lead

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def test_question_mark_shows_the_shortcuts_and_typing_fires_none(page, live_server, floor):
    from leads.models import ContactAttempt

    lead = new_lead(floor["source"], name="Вера Носова", company="ООО «Лето»", phone="+79265554433")
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    card_url = page.url

    dialog = page.locator("dialog#shortcuts")
    expect(dialog).not_to_be_visible()
    blur(page)
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Keyboard shortcuts")).to_be_visible()
    for key, label in [("1", "Reached"), ("2", "No answer"), ("5", "Wrong number"), ("n", "Write a note")]:
        expect(dialog.locator("dt", has_text=re.compile(f"^{key}$"))).to_be_visible()
        expect(dialog.locator("dd", has_text=label)).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).not_to_be_visible()
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).not_to_be_visible()

    # Typing digits and "?" in the attempt's note logs nothing and opens nothing.
    note = page.get_by_label("Note", exact=True)
    note.click()
    page.keyboard.type("2 attempts? 1 more, then n")
    expect(note).to_have_value("2 attempts? 1 more, then n")
    expect(dialog).not_to_be_visible()
    # The same in the note for marketing, and in a select.
    text = page.get_by_label("Text", exact=True)
    text.click()
    page.keyboard.type("3 4 5 ?")
    expect(text).to_have_value("3 4 5 ?")
    page.get_by_label("Channel").focus()
    page.keyboard.press("2")
    page.wait_for_timeout(300)  # a stray submit would have navigated by now
    expect(page).to_have_url(card_url)
    assert not ContactAttempt.objects.filter(lead=lead).exists()

    # Out of the field, "n" jumps to the note.
    blur(page)
    page.keyboard.press("n")
    expect(text).to_be_focused()


def test_outcome_keys_do_nothing_while_the_shortcuts_are_open(page, live_server, floor):
    from leads.models import ContactAttempt

    lead = new_lead(floor["source"], name="Юрий Жуков", company="ООО «Зима»", phone="+79265554400")
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    blur(page)
    page.keyboard.press("?")
    expect(page.locator("dialog#shortcuts")).to_be_visible()
    page.keyboard.press("2")
    page.wait_for_timeout(500)
    assert not ContactAttempt.objects.filter(lead=lead).exists()
