"""factory_boy factories for the tests. Reference data seeded by migrations
(stages, rejection reasons, global criteria) is looked up, not created."""

import factory
from django.utils import timezone

from leads.choices import EntryChannel
from leads.models import Campaign, Contact, Deal, Lead, Product, Segment, Source, Stage
from revops.models import Team, User
from revops.roles import Role


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"team-{n}")
    name = factory.Sequence(lambda n: f"Team {n}")
    kind = Team.Kind.SALES


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Sequence(lambda n: f"User{n}")
    role = Role.REP
    password = factory.django.Password("pw")


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"source-{n}")
    name = factory.Sequence(lambda n: f"Source {n}")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    source = factory.SubFactory(SourceFactory)
    code = factory.Sequence(lambda n: f"campaign-{n}")
    name = factory.Sequence(lambda n: f"Campaign {n}")
    utm_source = "yandex"
    utm_medium = "cpc"
    utm_campaign = factory.Sequence(lambda n: f"utm-campaign-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"product-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"segment-{n}")
    name_ru = factory.Sequence(lambda n: f"Сегмент {n}")
    name_en = factory.Sequence(lambda n: f"Segment {n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    name = factory.Sequence(lambda n: f"Контакт {n}")
    company = factory.Sequence(lambda n: f"ООО «Компания {n}»")
    # Valid Russian mobile numbers, unique per sequence number.
    phone = factory.Sequence(lambda n: f"+7916{n:07d}")
    email = factory.Sequence(lambda n: f"contact{n}@example.ru")


def stage(code: str) -> Stage:
    return Stage.objects.get(code=code)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    contact = factory.SubFactory(ContactFactory)
    source = factory.SubFactory(SourceFactory)
    channel = EntryChannel.FORM
    stage = factory.LazyFunction(lambda: stage("lead"))
    furthest_stage = factory.SelfAttribute("stage")
    team = factory.LazyAttribute(lambda o: o.owner.team if o.owner else None)
    owner = None
    created_at = factory.LazyFunction(timezone.now)


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    lead = factory.SubFactory(LeadFactory)
    contact = factory.SelfAttribute("lead.contact")
    amount = 100000
    margin = 30000


def make_calendar(code, tz, hours, *, weekdays=(0, 1, 2, 3, 4), holiday_country=""):
    """A business calendar open `hours` ([(opens, closes)…]) on each of `weekdays`
    (Monday is 0), read back as the clock reads it."""
    from sla.models import BusinessCalendar, WorkingHours

    calendar = BusinessCalendar.objects.create(
        code=code, name=code, timezone=tz, holiday_country=holiday_country
    )
    for weekday in weekdays:
        for opens, closes in hours:
            WorkingHours.objects.create(calendar=calendar, weekday=weekday, opens=opens, closes=closes)
    calendar.refresh_from_db()
    return calendar
