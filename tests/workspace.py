"""Shared by the workspace tests (the card, the queue): a Wednesday morning in
working hours, and a rep's new lead with its first-contact clock running."""

import datetime as dt

import pytest
import time_machine

from sla.clock import start_first_contact_timer
from tests.factories import LeadFactory

WED_11 = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)  # Wednesday 11:00 Moscow


@pytest.fixture
def working_hours():
    with time_machine.travel(WED_11, tick=True):
        yield


def new_lead(rep, **kwargs):
    lead = LeadFactory(owner=rep, **kwargs)
    start_first_contact_timer(lead, lead.created_at)
    return lead
