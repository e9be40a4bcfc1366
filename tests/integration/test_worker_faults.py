"""The running system, for real: Celery worker + beat against PostgreSQL and a
private Redis. A breach is recorded once and notified once whatever happens to
the worker or the broker; intake keeps answering while the broker is down."""

import datetime as dt
import time

import pytest
from django.db.models import Count
from django.utils import timezone

from leads.intake_keys import create_key
from leads.models import Lead
from revops.roles import Role
from sla.models import (
    Breach,
    DeliveryState,
    Notification,
    SlaPolicy,
    SlaTimer,
    TimerState,
)
from tests.factories import LeadFactory, SourceFactory
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def make_due_timers(team, count: int, due_at) -> list[int]:
    """Leads whose first-contact timers are already overdue (built in bulk)."""
    policy = SlaPolicy.objects.get(is_default=True)
    owner = team.members.get(role=Role.REP)
    leads = [
        LeadFactory.build(owner=owner, team=team, source=SourceFactory(code="bulk")) for _ in range(count)
    ]
    for lead in leads:
        lead.contact.save()
        lead.contact_id = lead.contact.pk
    Lead.objects.bulk_create(leads)
    timers = [
        SlaTimer(
            lead=lead,
            kind="first_contact",
            policy=policy,
            calendar=team.calendar,
            started_at=due_at - dt.timedelta(seconds=2),
            budget_seconds=2,
            due_at=due_at,
        )
        for lead in leads
    ]
    SlaTimer.objects.bulk_create(timers)
    return [t.pk for t in timers]


def assert_each_breached_and_notified_once(timer_ids):
    assert SlaTimer.objects.filter(pk__in=timer_ids, state=TimerState.BREACHED).count() == len(timer_ids)
    per_timer = Breach.objects.filter(timer_id__in=timer_ids).values("timer_id").annotate(n=Count("id"))
    assert {row["n"] for row in per_timer} == {1} and len(per_timer) == len(timer_ids)
    breach_ids = list(Breach.objects.filter(timer_id__in=timer_ids).values_list("pk", flat=True))
    notes = Notification.objects.filter(kind="sla_breach", dedupe_key__regex=r"^sla_breach:breach:\d+:")
    per_key = notes.values("recipient_id", "channel", "lead_id").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in per_key)
    # owner and head, in the app and by email: four rows per breach
    assert notes.count() == 4 * len(breach_ids)


def test_a_lead_is_breached_by_the_running_system_within_seconds(around_the_clock_team, worker, api):
    key = create_key(SourceFactory(code="site"))[1]
    response = api.post(
        "/api/v1/intake/",
        {"name": "Пётр", "phone": "+79161112233", "consent": True},
        format="json",
        HTTP_X_INTAKE_KEY=key,
    )
    assert response.status_code == 201
    timer = SlaTimer.objects.get(lead_id=response.json()["id"])
    try:
        wait_for(lambda: Breach.objects.filter(timer=timer).exists(), timeout=30, message="the breach")
    except AssertionError:
        pytest.fail(f"no breach; worker log:\n{worker.tail()}")
    breach = Breach.objects.get(timer=timer)
    latency = (breach.created_at - timer.due_at).total_seconds()
    assert latency < 10, f"breach {latency:.1f}s after due_at"
    assert breach.delay_owner == "rep"
    # …and the outbox delivers its emails.
    wait_for(
        lambda: not Notification.objects.filter(lead=timer.lead, state=DeliveryState.PENDING).exists(),
        timeout=20,
        message="email delivery",
    )


def test_a_worker_killed_mid_sweep_loses_and_doubles_nothing(around_the_clock_team, worker):
    worker.kill()  # build the backlog first, then let a worker loose on it
    timer_ids = make_due_timers(around_the_clock_team, 3000, timezone.now() - dt.timedelta(seconds=5))
    worker.start()
    wait_for(
        lambda: Breach.objects.filter(timer_id__in=timer_ids).exists(),
        timeout=60,
        message="the first breaches",
    )
    worker.kill()  # SIGKILL, somewhere inside the sweep
    partial = Breach.objects.filter(timer_id__in=timer_ids).count()
    # Whatever was committed is consistent: breached timers have exactly one breach.
    assert SlaTimer.objects.filter(pk__in=timer_ids, state=TimerState.BREACHED).count() == partial
    worker.start()
    try:
        wait_for(
            lambda: Breach.objects.filter(timer_id__in=timer_ids).count() == len(timer_ids),
            timeout=120,
            interval=0.5,
            message="all breaches after the restart",
        )
    except AssertionError:
        pytest.fail(
            f"{Breach.objects.filter(timer_id__in=timer_ids).count()} of {len(timer_ids)}; log:\n{worker.tail()}"
        )
    time.sleep(2)  # a few more sweeps must change nothing
    assert_each_breached_and_notified_once(timer_ids)


def test_with_the_broker_down_intake_answers_and_breaches_come_once_it_returns(
    around_the_clock_team, worker, redis_server, api, settings
):
    # The web uses the same Redis for its cache (rate limits), as in production.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    key = create_key(SourceFactory(code="site"))[1]
    wait_for(lambda: "ready" in worker.tail(200), timeout=30, message="the worker to start")
    redis_server.stop()
    started = time.monotonic()
    lead_ids = []
    for i in range(5):
        response = api.post(
            "/api/v1/intake/",
            {"name": f"Клиент {i}", "phone": f"+7916555000{i}", "consent": True},
            format="json",
            HTTP_X_INTAKE_KEY=key,
        )
        assert response.status_code == 201
        lead_ids.append(response.json()["id"])
    assert time.monotonic() - started < 10, "intake must not wait on the broker"
    timer_ids = list(SlaTimer.objects.filter(lead_id__in=lead_ids).values_list("pk", flat=True))
    time.sleep(4)  # every timer is now overdue, and nothing can sweep
    assert not Breach.objects.filter(timer_id__in=timer_ids).exists()
    redis_server.start()  # same port: the worker and beat reconnect
    try:
        wait_for(
            lambda: Breach.objects.filter(timer_id__in=timer_ids).count() == len(timer_ids),
            timeout=90,
            interval=0.5,
            message="breaches after the broker returned",
        )
    except AssertionError:
        pytest.fail(f"log:\n{worker.tail(80)}")
    time.sleep(2)
    assert_each_breached_and_notified_once(timer_ids)


def test_two_workers_each_with_a_beat_breach_and_notify_once(around_the_clock_team, worker, second_worker):
    worker.kill()
    timer_ids = make_due_timers(around_the_clock_team, 600, timezone.now() - dt.timedelta(seconds=5))
    worker.start()
    second_worker.start()
    try:
        wait_for(
            lambda: Breach.objects.filter(timer_id__in=timer_ids).count() == len(timer_ids),
            timeout=90,
            interval=0.5,
            message="all breaches with two beats",
        )
    except AssertionError:
        pytest.fail(f"log 1:\n{worker.tail()}\nlog 2:\n{second_worker.tail()}")
    time.sleep(3)  # both keep sweeping; nothing may change
    assert_each_breached_and_notified_once(timer_ids)
