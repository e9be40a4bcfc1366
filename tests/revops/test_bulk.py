"""revops.bulk.insert: bulk_create's contract, faster on PostgreSQL (the SLA sweep's rows)."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from revops import bulk
from sla import notify
from sla.models import DeliveryState, Notification, NotificationChannel, NotificationKind

pytestmark = pytest.mark.django_db


def rows_for(user, event: str):
    user.email = user.email or "rep@example.ru"  # an in-app and an e-mail row each
    return notify.build(
        [user],
        NotificationKind.NEW_LEAD,
        lead_id=None,
        event=event,
        params={"lead": 7, "source": "Сайт «Ромашка»"},
    )


def test_inserts_in_one_statement_and_sets_the_ids(rep):
    objs = rows_for(rep, "a") + rows_for(rep, "b")
    with CaptureQueriesContext(connection) as ctx:
        bulk.insert(objs)
    assert len(ctx.captured_queries) == 1  # counted like any query
    assert all(o.pk for o in objs) and len({o.pk for o in objs}) == len(objs)
    stored = {n.pk: n for n in Notification.objects.filter(pk__in=[o.pk for o in objs])}
    for obj in objs:
        row = stored[obj.pk]
        assert (row.dedupe_key, row.channel, row.state, row.recipient_id) == (
            obj.dedupe_key,
            obj.channel,
            obj.state,
            rep.pk,
        )
        assert row.params == {"lead": 7, "source": "Сайт «Ромашка»"}  # JSON, not its text
    assert {o.channel for o in objs} == {NotificationChannel.IN_APP, NotificationChannel.EMAIL}
    assert not objs[0]._state.adding


def test_ignoring_conflicts_skips_rows_already_there(rep):
    bulk.insert(rows_for(rep, "a"), ignore_conflicts=True)
    again = rows_for(rep, "a") + rows_for(rep, "b")
    bulk.insert(again, ignore_conflicts=True)
    assert Notification.objects.filter(recipient=rep).count() == 4


def test_without_ignoring_a_conflict_fails_the_whole_insert(rep):
    bulk.insert(rows_for(rep, "a"))
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(rows_for(rep, "b") + rows_for(rep, "a"))
    assert Notification.objects.filter(recipient=rep).count() == 2  # nothing of "b"


def test_nothing_to_insert_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert bulk.insert([]) == []


def test_delivered_in_app_rows_keep_their_state(rep):
    objs = rows_for(rep, "c")
    bulk.insert(objs)
    states = dict(Notification.objects.filter(pk__in=[o.pk for o in objs]).values_list("channel", "state"))
    assert states == {
        NotificationChannel.IN_APP: DeliveryState.DELIVERED,
        NotificationChannel.EMAIL: DeliveryState.PENDING,
    }


def test_times_choices_and_json_come_back_as_written(rep):
    import datetime as dt
    from zoneinfo import ZoneInfo

    moscow = dt.datetime(2026, 3, 8, 23, 59, 59, 123456, tzinfo=ZoneInfo("Europe/Moscow"))
    objs = rows_for(rep, "d")
    for obj in objs:
        obj.created_at = obj.next_attempt_at = moscow
        obj.params = {"nested": [1, 2.5, None, "ё"], "empty": {}}
    bulk.insert(objs)
    for obj in objs:
        row = Notification.objects.get(pk=obj.pk)
        assert row.created_at == moscow and row.next_attempt_at == moscow
        assert row.params == {"nested": [1, 2.5, None, "ё"], "empty": {}}
        assert row.kind == NotificationKind.NEW_LEAD and type(row.kind) is str
        assert row.read_at is None


def test_what_the_fast_path_cannot_do_goes_to_bulk_create(rep):
    """An explicit id, a string datetime or an expression: the same result as
    bulk_create, through bulk_create."""
    from django.db.models import Value

    explicit = rows_for(rep, "e")
    explicit[0].pk = 987654
    bulk.insert(explicit[:1])
    assert Notification.objects.filter(pk=987654).exists()

    as_text = rows_for(rep, "f")
    for obj in as_text:
        obj.created_at = "2026-11-26T12:00:00+03:00"
    bulk.insert(as_text)
    assert {n.created_at.isoformat() for n in Notification.objects.filter(dedupe_key__contains=":f:")} == {
        "2026-11-26T09:00:00+00:00"
    }

    expression = rows_for(rep, "g")
    for obj in expression:
        obj.last_error = Value("set by the database")
    bulk.insert(expression)
    assert set(
        Notification.objects.filter(dedupe_key__contains=":g:").values_list("last_error", flat=True)
    ) == {"set by the database"}


def test_a_nullable_column_that_is_null_in_every_row(rep):
    objs = rows_for(rep, "h")
    for obj in objs:
        obj.lead_id = None
        obj.delivered_at = None
    bulk.insert(objs)
    assert list(
        Notification.objects.filter(pk__in=[o.pk for o in objs]).values_list("lead_id", "delivered_at")
    ) == [
        (None, None),
        (None, None),
    ]


def test_a_single_row_comes_back_as_written(rep):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from leads.models import Consent, InboundRequest
    from tests.factories import LeadFactory

    moscow = dt.datetime(2026, 3, 8, 23, 59, 59, 123456, tzinfo=ZoneInfo("Europe/Moscow"))
    (obj,) = rows_for(rep, "s")[:1]
    obj.created_at = moscow
    obj.params = {"nested": [1, 2.5, None, "ё"], "quote": "it's"}
    bulk.insert([obj])
    row = Notification.objects.get(pk=obj.pk)
    assert row.created_at == moscow and row.params == obj.params and row.state == obj.state
    # An address column and a JSON column holding a plain string, one row each.
    lead = LeadFactory()
    contact = lead.contact
    request = InboundRequest(
        lead=lead, contact=contact, source=lead.source, channel="form", extra="just text"
    )
    bulk.insert([request])
    for ip in ("203.0.113.7", "2001:db8::1", None):
        consent = Consent(contact=contact, request=request, text_version="v1", ip=ip)
        bulk.insert([consent])
        assert Consent.objects.get(pk=consent.pk).ip == ip
        consent.delete()
    assert InboundRequest.objects.get(pk=request.pk).extra == "just text"
