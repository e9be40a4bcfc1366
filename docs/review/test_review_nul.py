import pytest
from django.test import Client

from leads import feedback as fb
from tests.leads.dispute_story import rejected_lead
from tests.leads.test_disputes_flow import clock  # noqa

pytestmark = pytest.mark.django_db


def test_nul_in_dispute_comment(rep, head, marketer, clock):
    lead = rejected_lead(rep)
    c = Client(raise_request_exception=False)
    c.force_login(marketer)
    r = c.post(f"/disputes/lead/{lead.pk}/", {"comment": "ours\x00"})
    print("dispute open NUL:", r.status_code)
    f = fb.leave_feedback(lead, rep, "objection", "text")
    r2 = c.post(f"/feedback/{f.pk}/take/", {"reply": "ok\x00"})
    print("feedback take NUL:", r2.status_code)
    c.force_login(rep)
    r3 = c.post(f"/leads/{lead.pk}/do/note/", {"text": "hi\x00", "topic": "objection"})
    print("card feedback NUL:", r3.status_code)
    assert (r.status_code, r2.status_code, r3.status_code) == (302, 400, 302)
