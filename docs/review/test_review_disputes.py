import datetime as dt

import pytest

from leads import actions, disputes
from leads.choices import DisputeState
from leads.models import Lead, RejectionDispute
from revops.errors import Conflict
from sla.sweep import sweep
from tests.leads.dispute_story import REJECTED, DECIDE_BY, msk, rejected_lead
from tests.leads.test_disputes_flow import clock  # noqa

pytestmark = pytest.mark.django_db


def test_dispute_survives_undo_of_its_rejection(rep, head, marketer, ceo, clock):
    lead = rejected_lead(rep)
    clock.move_to(REJECTED + dt.timedelta(seconds=5))
    dispute = disputes.open_dispute(lead, marketer, "ours")
    change = actions.undoable_close(Lead.objects.get(pk=lead.pk), rep)
    assert change is not None
    actions.undo_close(Lead.objects.get(pk=lead.pk), rep, change.pk)
    lead.refresh_from_db()
    print("lead stage after undo:", lead.stage.code)
    dispute.refresh_from_db()
    print("dispute state:", dispute.state)
    # rep rejects again later, for another reason
    clock.move_to(REJECTED + dt.timedelta(minutes=5))
    actions.reject(Lead.objects.get(pk=lead.pk), rep, "no_budget" if False else "not_target", "again")
    # marketing cannot dispute the new rejection
    with pytest.raises(Conflict) as exc:
        disputes.open_dispute(Lead.objects.get(pk=lead.pk), marketer, "this one too")
    print("open 2nd:", exc.value)
    # sweep escalates to executives past deadline
    clock.move_to(DECIDE_BY + dt.timedelta(minutes=1))
    sweep(DECIDE_BY + dt.timedelta(minutes=1))
    dispute.refresh_from_db()
    print("escalated:", dispute.escalated_at)
    assert dispute.state != DisputeState.OPEN, "dispute of an undone rejection stays open"
