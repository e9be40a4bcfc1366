"""Racing requests on PostgreSQL: the same person submitting twice at the same
moment, and the same Idempotency-Key retried in parallel, never make two leads."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from leads.intake_keys import create_key
from leads.models import Contact, IdempotencyRecord, InboundRequest, Lead
from revops.roles import Role
from tests.conftest import skip_or_fail
from tests.factories import SourceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"name": "Вера", "phone": "+7 916 000-11-22", "email": "vera@example.ru", "consent": True}


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL: SQLite serialises writers, so there is no race to prove")


def race(n: int, send):
    """Run `send(i)` in n threads released at the same instant."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = send(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_simultaneous_requests_from_one_person_make_one_lead(postgres, attempt):
    key = create_key(SourceFactory(code="site"))[1]
    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC), tick=True):

        def send(i):
            return APIClient().post("/api/v1/intake/", BODY, format="json", HTTP_X_INTAKE_KEY=key).status_code

        codes = race(8, send)
    assert sorted(codes) == [200] * 7 + [201]
    assert Contact.objects.count() == 1
    assert Lead.objects.count() == 1
    assert InboundRequest.objects.count() == 8  # every request is kept
    assert InboundRequest.objects.filter(is_repeat=True).count() == 7


def test_parallel_retries_with_one_idempotency_key_create_once(postgres):
    key = create_key(SourceFactory(code="site"))[1]

    def send(i):
        response = APIClient().post(
            "/api/v1/intake/", BODY, format="json", HTTP_X_INTAKE_KEY=key, HTTP_IDEMPOTENCY_KEY="order-7"
        )
        return response.status_code, response.json()

    results = race(6, send)
    assert {code for code, _ in results} == {201}
    assert len({body["request_id"] for _, body in results}) == 1
    assert InboundRequest.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


def burst_of_new_people(n: int) -> list[int]:
    """n different people send their first request at the same instant, on a
    Wednesday morning when the default calendar is open."""
    key = create_key(SourceFactory(code="site"))[1]
    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC), tick=True):

        def send(i):
            body = {"phone": f"+7 916 000-20-{i:02d}", "consent": True}
            return APIClient().post("/api/v1/intake/", body, format="json", HTTP_X_INTAKE_KEY=key).status_code

        return race(n, send)


@pytest.mark.parametrize("attempt", range(2))
def test_simultaneous_new_leads_never_pass_a_daily_cap(postgres, attempt):
    team = TeamFactory(code="sales", daily_cap=2)
    rep = UserFactory(username="capped", role=Role.REP, team=team)
    assert burst_of_new_people(8) == [201] * 8
    assert Lead.objects.filter(owner=rep).count() == 2
    assert Lead.objects.filter(owner=None, team=team).count() == 6  # waiting in the team's queue


@pytest.mark.parametrize("mode", ["least_open", "least_today"])
def test_a_burst_is_shared_out_by_the_least_loaded_modes(postgres, mode):
    team = TeamFactory(code="sales", distribution_mode=mode)
    reps = [UserFactory(username=f"r{i}", role=Role.REP, team=team) for i in range(2)]
    assert burst_of_new_people(8) == [201] * 8
    assert sorted(Lead.objects.filter(owner=rep).count() for rep in reps) == [4, 4]
