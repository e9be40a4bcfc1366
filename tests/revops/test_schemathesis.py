"""The OpenAPI schema tells the truth (issue #11, item 9).

schemathesis reads /api/schema/ from the WSGI app in-process (no server) and
sends every operation examples generated from the schema, as a head of sales
with data present. Every answer must be a documented status code with the
documented content type and body shape, and never a 5xx. The examples are
derandomized (the same ones every run) and bounded so the test stays quick.
"""

import contextlib
import datetime as dt
import os
import sys

import pytest
import schemathesis
import time_machine
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from leads.intake_keys import create_key
from revops.roles import Role
from sla.models import Breach, DelayOwner, SlaPolicy, SlaTimer, TimerKind, TimerState
from tests.factories import (
    CampaignFactory,
    LeadFactory,
    SegmentFactory,
    SourceFactory,
    TeamFactory,
    UserFactory,
)

# 25 examples per operation (positive and negative), the same every run; more
# with REVOPS_FUZZ_EXAMPLES=200 for a longer hunt by hand.
EXAMPLES = int(os.environ.get("REVOPS_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())

# Requests sent, by operation and status, for the figures in bench/README.md
# (printed at the end of the module: run with -s to see them).
SENT: dict[str, int] = {}
STATUSES: dict[int, int] = {}


@pytest.fixture(scope="module", autouse=True)
def tally():
    yield
    if SENT:
        print(
            f"\nschemathesis: {len(SENT)} operations, {sum(SENT.values())} requests, "
            f"by status {dict(sorted(STATUSES.items()))}, "
            f"5xx: {sum(n for code, n in STATUSES.items() if code >= 500)}",
            file=sys.stderr,
        )


@pytest.fixture
def world(db):
    """A team with a head, reps and leads in every state the API can show;
    breaches to list and act on; an intake key."""
    team = TeamFactory(code="team-fuzz", name="Fuzz team")
    head = UserFactory(username="fuzz_head", role=Role.SALES_HEAD, team=team)
    team.head = head
    team.save()
    reps = [UserFactory(username=f"fuzz_rep{n}", role=Role.REP, team=team) for n in range(2)]
    source = SourceFactory(code="fuzz-site")
    campaign = CampaignFactory(source=source)
    segment = SegmentFactory()
    policy = SlaPolicy.objects.get(is_default=True)
    for n in range(6):
        lead = LeadFactory(
            owner=reps[n % 2],
            source=source,
            campaign=campaign if n % 2 else None,
            segment=segment if n % 3 else None,
            landing_page="" if n % 2 else "https://example.ru/form",
        )
        timer = SlaTimer.objects.create(
            lead=lead,
            kind=TimerKind.FIRST_CONTACT,
            policy=policy,
            state=TimerState.BREACHED if n % 2 else TimerState.RUNNING,
            started_at=lead.created_at,
            budget_seconds=900,
            due_at=lead.created_at + dt.timedelta(minutes=15),
            breached_at=lead.created_at + dt.timedelta(minutes=15) if n % 2 else None,
        )
        if n % 2:
            Breach.objects.create(
                timer=timer,
                kind=TimerKind.FIRST_CONTACT,
                lead=lead,
                owner=lead.owner,
                team=team,
                source=source,
                delay_owner=DelayOwner.REP,
                due_at=timer.due_at,
                created_at=timer.due_at,
            )
    head.set_password("fuzz-password")
    head.save()
    token = APIClient().post(
        "/api/v1/auth/token/", {"username": "fuzz_head", "password": "fuzz-password"}, format="json"
    )
    assert token.status_code == 200, token.content
    return {"token": token.json()["token"], "intake_key": create_key(source)[1]}


@contextlib.contextmanager
def keeping_the_test_connection():
    """Django's test client keeps the request signals from closing the database
    connection (which holds the test's transaction) and connects them again
    after each request; schemathesis calls the bare WSGI app, so do the same
    around each call (on PostgreSQL the test's data would vanish)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def clock():
    # A Wednesday, 11:00 in Moscow: calendars open, deadlines computable.
    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC), tick=True):
        yield


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_the_schema_says(case, world):
    headers = {"Authorization": f"Token {world['token']}"}
    if case.path == "/api/v1/intake/":
        headers = {"X-Intake-Key": world["intake_key"]}
    elif case.path == "/api/v1/auth/token/":
        headers = {}
    SENT[case.operation.label] = SENT.get(case.operation.label, 0) + 1
    with keeping_the_test_connection():
        response = case.call(headers=headers)
    STATUSES[response.status_code] = STATUSES.get(response.status_code, 0) + 1
    case.validate_response(response, checks=CHECKS)
