"""Accessibility smoke: every form control on the rep's and the head's working
pages has an accessible name (a label, aria-label or its own text)."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.browser.helpers import login, new_lead, sign_out, unnamed_controls
from tests.factories import LeadFactory, UserFactory


@pytest.mark.browser_context_args(locale="en-US")
def test_every_control_has_an_accessible_name(page, live_server, floor):
    from revops.roles import Role
    from sla.models import SlaPolicy
    from sla.sweep import sweep

    SlaPolicy.objects.filter(is_default=True).update(first_contact_seconds=1)
    arrived = timezone.now() - dt.timedelta(seconds=3)
    lead = new_lead(
        floor["source"], name="Лев Орехов", company="ООО «Орех»", phone="+79160001122", received_at=arrived
    )
    UserFactory(username="teammate", role=Role.REP, team=floor["team"])
    # A lead waiting for an owner, so the board shows its assign form too.
    LeadFactory(team=floor["team"], source=floor["source"])
    assert sweep().breached == 1

    found = {}
    login(page, live_server, "rep")
    found["queue"] = unnamed_controls(page)
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    found["card (rep)"] = unnamed_controls(page)

    sign_out(page)
    login(page, live_server, "head")
    page.wait_for_selector("#breaches tbody tr")
    page.wait_for_selector("#waiting tbody tr")
    found["board"] = unnamed_controls(page)
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    found["card (head)"] = unnamed_controls(page)
    page.goto(f"{live_server.url}/sla/breaches/")
    found["breaches"] = unnamed_controls(page)

    assert not any(found.values()), {where: names for where, names in found.items() if names}
