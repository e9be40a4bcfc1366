"""Speed to lead where the rep sees it: a lead posted to the intake API shows up
in the rep's open queue within seconds, without a reload; the SLA badge counts
down by itself; the bell's panel stays open while the rep reads it."""

import datetime as dt
import json
import re
import time
import urllib.request

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import login, new_lead

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def _post_intake(live_server, key: str, phone: str, name: str) -> dict:
    body = json.dumps(
        {
            "name": name,
            "phone": phone,
            "comment": "Нужен счёт",
            "consent": True,
            "consent_text": "site-2024-01",
        }
    ).encode()
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/intake/",
        data=body,
        headers={"Content-Type": "application/json", "X-Intake-Key": key},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


def test_a_lead_posted_to_the_api_appears_in_the_open_queue_within_seconds(page, live_server, floor):
    from leads.intake_keys import create_key

    _key, secret = create_key(floor["source"], rate_limit_per_minute=1000)
    login(page, live_server, "rep")
    expect(page).to_have_url(re.compile(r"/queue/$"))
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    rows = page.locator("table.queue tbody tr")
    page.wait_for_timeout(2500)  # the page's first poll has learnt the current version

    posted = time.monotonic()
    answer = _post_intake(live_server, secret, "+79161110001", "Вера Новикова")
    row = rows.filter(has_text="Вера Новикова")
    expect(row).to_have_count(1, timeout=5_000)
    seen_after = time.monotonic() - posted
    assert seen_after < 5, seen_after
    assert page.evaluate("window.__sameDocument") is True, "the queue updated without a reload"
    expect(row.locator(".sla-badge")).to_have_class(re.compile(r"\bsla-ok\b"))
    assert str(answer["id"]) in row.inner_html()
    # The bell counts it too.
    expect(page.locator("#bell .bell-count")).to_have_text("1")


def test_the_sla_badge_counts_down_by_itself(page, live_server, floor):
    from sla.models import SlaTimer, TimerKind, TimerState

    lead = new_lead(floor["source"], name="Пётр Орлов", company="ООО «Кедр»", phone="+79161110002")
    # 62 s of working time left on a 24/7 calendar: "1 min left" now, "<1 min left" in a few seconds.
    SlaTimer.objects.filter(lead=lead, kind=TimerKind.FIRST_CONTACT, state=TimerState.RUNNING).update(
        due_at=timezone.now() + dt.timedelta(seconds=62)
    )
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    badge = page.locator("#sla-badge")
    expect(badge).to_have_text("1 min left")
    expect(badge).to_have_class(re.compile(r"\bsla-at_risk\b"))
    expect(badge).to_have_text("<1 min left", timeout=6_000)


def test_the_bell_panel_stays_open_while_the_rep_reads_it(page, live_server, floor):
    new_lead(floor["source"], name="Первый Лид", company="ООО «Один»", phone="+79161110003")
    login(page, live_server, "rep")
    bell = page.locator("#bell")
    expect(bell.locator(".bell-count")).to_have_text("1")
    bell.locator("summary").click()
    expect(bell.locator(".bell-panel")).to_be_visible()

    new_lead(floor["source"], name="Второй Лид", company="ООО «Два»", phone="+79161110004")
    # The queue takes the new lead in while the panel stays open and unchanged under the reader.
    expect(page.locator("table.queue tbody tr").filter(has_text="Второй Лид")).to_have_count(1, timeout=5_000)
    expect(bell.locator(".bell-panel")).to_be_visible()
    expect(bell.locator(".bell-count")).to_have_text("1")
    # Closing it catches up at once.
    bell.locator("summary").click()
    expect(bell.locator(".bell-count")).to_have_text("2", timeout=3_000)
