"""The per-process cache of reference tables: fresh within its lifetime,
cleared at once by a change saved in this process."""

import time

import pytest
from django.db import transaction

from leads.assignment import route
from leads.models import Lead, Product, RoutingRule, Source, Stage
from revops import refcache
from revops.models import Team

# Committed for real: inside a test's own transaction, a change keeps the
# changing thread off the cache until the (never committed) transaction ends.
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_value_is_loaded_once_within_its_lifetime_and_again_after(settings):
    settings.REFERENCE_CACHE_SECONDS = 0.2
    loads = []

    def load():
        loads.append(1)
        return len(loads)

    assert refcache.get("x", load) == 1
    assert refcache.get("x", load) == 1
    time.sleep(0.25)
    assert refcache.get("x", load) == 2


def test_a_bulk_edit_shows_within_the_lifetime_and_a_saved_one_at_once(settings, django_assert_num_queries):
    settings.REFERENCE_CACHE_SECONDS = 60
    product = Product.objects.create(code="widget", name="Widget")
    assert Product.active_by_code("widget") == product
    with django_assert_num_queries(0):
        assert Product.active_by_code("widget") == product
    # A queryset update sends no signal (as another process's edit would not):
    # the cached value stays until the lifetime ends.
    Product.objects.filter(pk=product.pk).update(is_active=False)
    assert Product.active_by_code("widget") == product
    # Saved through the model: this process sees it at once.
    product.refresh_from_db()
    product.save()
    assert Product.active_by_code("widget") is None


def test_a_new_routing_rule_routes_the_next_lead(settings):
    settings.REFERENCE_CACHE_SECONDS = 60
    first = Team.objects.create(code="t1", name="Team one")
    second = Team.objects.create(code="t2", name="Team two")
    source = Source.objects.create(code="expo", name="Exhibition")
    lead = Lead(source=source, stage=Stage.by_code("lead"))
    assert route(lead)[0] == first  # no rule: the default (first) sales team
    RoutingRule.objects.create(position=1, team=second, source=source)
    assert route(lead)[0] == second
    assert refcache._entries  # and it is cached again


def test_stage_lookups_come_from_the_cache(django_assert_num_queries):
    Stage.cached()
    with django_assert_num_queries(0):
        assert Stage.by_code("lead").code == "lead"
        assert Stage.ids_of("open")


def test_editing_a_calendars_hours_reaches_the_cached_team(settings):
    """Hours are edited through `calendar.touch()` (a queryset update, no
    signal): the cached team must not keep the old calendar version."""
    import datetime as dt

    from sla.models import BusinessCalendar, WorkingHours

    settings.REFERENCE_CACHE_SECONDS = 60
    calendar = BusinessCalendar.objects.create(code="c1", name="C1", timezone="UTC", holiday_country="")
    team = Team.objects.create(code="t1", name="Team one", calendar=calendar)
    source = Source.objects.create(code="web", name="Web")
    lead = Lead(source=source, stage=Stage.by_code("lead"))
    before = route(lead)[0].calendar.version
    WorkingHours.objects.create(calendar=calendar, weekday=0, opens=dt.time(9), closes=dt.time(18))
    calendar.touch()
    assert route(lead)[0] == team
    assert route(lead)[0].calendar.version > before


def test_a_rolled_back_change_is_never_cached(settings):
    settings.REFERENCE_CACHE_SECONDS = 60
    assert Product.active_by_code("ghost") is None
    with pytest.raises(RuntimeError), transaction.atomic():
        Product.objects.create(code="ghost", name="Ghost")
        assert Product.active_by_code("ghost") is not None  # this transaction sees its own row
        assert Product.active_by_code("ghost") is not None
        raise RuntimeError("the import failed")
    assert Product.active_by_code("ghost") is None


def test_a_committed_change_is_seen_at_once_after_the_commit(settings):
    settings.REFERENCE_CACHE_SECONDS = 60
    assert Product.active_by_code("new") is None
    with transaction.atomic():
        Product.objects.create(code="new", name="New")
    assert Product.active_by_code("new") is not None


def test_a_value_loaded_across_a_clear_is_not_kept(settings):
    """Another thread's change commits while this thread loads the old rows:
    the old rows must not be cached for a whole lifetime."""
    settings.REFERENCE_CACHE_SECONDS = 60

    def load_racing_a_change():
        refcache.clear()  # the other thread's commit, in the middle of the load
        return "old rows"

    assert refcache.get("racy", load_racing_a_change) == "old rows"
    assert refcache.get("racy", lambda: "new rows") == "new rows"


def test_a_change_rolled_back_to_a_savepoint_is_never_cached(settings):
    settings.REFERENCE_CACHE_SECONDS = 60
    with transaction.atomic():
        Product.objects.create(code="kept", name="Kept")
        try:
            with transaction.atomic():  # a savepoint
                Product.objects.create(code="ghost", name="Ghost")
                assert Product.active_by_code("ghost") is not None
                raise RuntimeError("this row failed")
        except RuntimeError:
            pass
        assert Product.active_by_code("ghost") is None
        assert Product.active_by_code("kept") is not None
    assert Product.active_by_code("ghost") is None
    assert Product.active_by_code("kept") is not None
