"""The browser tests' sign-out leaves nothing of the previous user behind, even
an answer still on its way (what made test_accessibility fail about 1 run in 5:
a late answer of the bell put the previous user's CSRF cookie back)."""

import datetime as dt
import time

from django.utils import timezone

from tests.browser.helpers import login, new_lead, sign_out


def test_a_late_answer_of_the_page_left_writes_no_cookie(page, live_server, floor, monkeypatch):
    import sla.views
    from sla.models import SlaPolicy
    from sla.sweep import sweep

    # An unread breach, so the bell's answer carries a form and with it the CSRF cookie.
    SlaPolicy.objects.filter(is_default=True).update(first_contact_seconds=1)
    arrived = timezone.now() - dt.timedelta(seconds=3)
    new_lead(floor["source"], name="Лев Орехов", company="", phone="+79160001122", received_at=arrived)
    assert sweep().breached == 1

    render, held = sla.views.render, []

    def slow_bell(request, template, *args, **kwargs):
        if template == "sla/_notification_badge.html":
            held.append(time.monotonic())
            time.sleep(1.5)  # the bell's answer, with its Set-Cookie, is late
        return render(request, template, *args, **kwargs)

    monkeypatch.setattr(sla.views, "render", slow_bell)
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/leads/")
    assert held, "the bell must have asked while the page was open"

    sign_out(page)
    assert page.context.cookies() == []
    page.wait_for_timeout(2_000)  # past the late answer: plain clear_cookies() would have its cookie now
    assert page.context.cookies() == []

    monkeypatch.setattr(sla.views, "render", render)
    login(page, live_server, "head")  # and the next person signs in at once
    assert "/login/" not in page.url
