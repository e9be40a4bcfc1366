"""A marketer builds a nurture track in the browser (a reason, an email, a wait);
a rep sends a lead to nurture with that reason and a return date; the sweep
runs the track and, after the return date, brings the lead back: the marketer
reads the email on the lead's timeline, and the lead is in the rep's queue."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import login, new_lead, shot, unnamed_controls

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def test_a_marketer_builds_a_track_and_sees_the_lead_warmed_and_back(
    page, live_server, floor, marketer, settings
):
    from leads.models import Lead, NurtureReturn, NurtureTrack, TrackEnrollment
    from sla.sweep import sweep

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    marketer.first_name, marketer.last_name = "Мария", "Лебедева"
    marketer.save()
    lead = new_lead(
        floor["source"],
        name="Анна Петрова",
        company="ООО «Ромашка»",
        phone="+79161234567",
        email="anna@romashka.ru",
        marketing_consent=True,
        marketing_consent_text="ads-2026",
    )

    # 1. The marketer builds the track.
    login(page, live_server, "marketer")
    page.get_by_role("link", name="Nurture tracks").click()
    page.get_by_role("link", name="New track").click()
    assert not unnamed_controls(page)
    page.get_by_label("Name").fill("Budget season")
    page.get_by_label("No budget yet").check()
    page.locator('[name="steps-0-ORDER"]').fill("1")
    page.locator('[name="steps-0-kind"]').select_option("email")
    page.locator('[name="steps-0-subject"]').fill("{{ name }}, budgets for {{ company }}")
    page.locator('[name="steps-0-body"]').fill("Hello {{ name }}! Your manager {{ owner }}.")
    page.locator('[name="steps-1-ORDER"]').fill("2")
    page.locator('[name="steps-1-kind"]').select_option("wait")
    page.locator('[name="steps-1-wait_days"]').fill("10")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Track “Budget season” saved.")
    shot(page, "track_editor")
    track = NurtureTrack.objects.get(name="Budget season")
    assert [s.kind for s in track.steps.order_by("position")] == ["email", "wait"]

    # 2. The rep sends the lead to nurture with that reason and a return date.
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    page.get_by_label("Listed reason").select_option(label="No budget yet")
    page.get_by_label("Why nurture, in your words").fill("Budget in spring")
    back_on = timezone.localdate() + dt.timedelta(days=14)
    page.get_by_label("Return on").fill(back_on.isoformat())
    page.get_by_role("button", name="Send to nurture").click()
    expect(page.locator(".undo-offer")).to_contain_text(f"Lead #{lead.pk} went to nurture.")
    assert TrackEnrollment.objects.get(lead=lead).track == track

    # 3. The sweep runs the email step once the Undo window is over.
    result = sweep(now=timezone.now() + dt.timedelta(seconds=30))
    assert result.track_steps == 1 and result.track_emails == 1
    assert mail.outbox[0].subject == "Анна Петрова, budgets for ООО «Ромашка»"

    login(page, live_server, "marketer")
    page.goto(f"{live_server.url}/nurture/tracks/")
    expect(page.locator("#track-table .on-track")).to_have_text("1")
    shot(page, "track_list")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Put on a nurture track")
    expect(timeline).to_contain_text("Track email sent")
    expect(timeline).to_contain_text("«Анна Петрова, budgets for ООО «Ромашка»»")
    shot(page, "track_email_on_timeline")

    # The person unsubscribes from the link in the email, without signing in.
    link = re.search(r"https?://\S+/unsubscribe/\S+/", mail.outbox[0].body).group(0)
    page.context.clear_cookies()
    page.goto(live_server.url + link[link.index("/unsubscribe/") :])
    expect(page.locator("body")).to_contain_text("Отписаться от наших писем?")
    expect(page.locator("body")).to_contain_text("Unsubscribe from our emails?")
    page.get_by_role("button", name=re.compile("Unsubscribe")).click()
    expect(page.locator("body")).to_contain_text("You are unsubscribed")
    shot(page, "track_unsubscribed")
    login(page, live_server, "marketer")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.locator("#timeline")).to_contain_text("Unsubscribed from marketing email")

    # 4. After the return date the lead is back in the sales queue.
    due = NurtureReturn.objects.get(lead=lead).due_at
    assert sweep(now=due + dt.timedelta(seconds=1)).returned == 1
    assert Lead.objects.get(pk=lead.pk).stage.kind == "open"
    assert TrackEnrollment.objects.get(lead=lead).state == "stopped"
    page.reload()
    expect(page.locator(".tag-returned")).to_have_text("Back from nurture")
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/queue/")
    expect(page.locator("main")).to_contain_text("Анна Петрова")
    expect(page).to_have_url(re.compile(r"/queue/"))
