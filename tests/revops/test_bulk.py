"""revops.bulk.insert: bulk_create's contract, faster on PostgreSQL."""

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
