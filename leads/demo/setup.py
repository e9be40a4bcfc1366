"""Upserting the demo company: sources, campaigns, products, segments, checklist
lines and a year of spend; teams with their calendars and routing; the demo users
and their shifts; the vacation around `today`. And removing demo leads (--reset).

Everything here is idempotent: a second run updates what the first created.
"""

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db.models import Exists, OuterRef

from leads.demo.company import (
    ABSENCE_DAYS,
    ABSENCE_NOTE,
    ABSENT_REP,
    CALENDARS,
    CAMPAIGNS,
    DEFAULT_LEADS,
    DEMO_MARK,
    DEMO_PASSWORD,
    DEMO_USERNAMES,
    EMAIL_DOMAIN,
    EXHIBITION_LEAD_DAYS,
    EXHIBITION_SPEND,
    EXHIBITIONS,
    PRODUCTS,
    REPS,
    ROUTES,
    SEASONALITY,
    SEGMENT_CRITERIA,
    SEGMENTS,
    SOURCES,
    TEAM_SETUP,
    TEAMS,
    USERS,
    WEBINAR_MONTHLY_SPEND,
    CampaignProfile,
)
from leads.models import (
    Campaign,
    Contact,
    Deal,
    InboundRequest,
    Lead,
    Product,
    QualificationCriterion,
    RoutingRule,
    Segment,
    Source,
    Spend,
)
from revops.models import Absence, Shift, Team, User
from sla.calendars import DEFAULT_CALENDAR_CODE
from sla.defaults import seed_defaults
from sla.models import BusinessCalendar, Notification, WorkingHours

# --- the reference data ---------------------------------------------------------------------------


@dataclass
class Reference:
    sources: dict[str, Source]
    campaigns: dict[str, list[tuple[Campaign, CampaignProfile]]]  # per source code
    products: dict[str, Product]
    segments: dict[str, Segment]


def month_start(day: date, shift: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + shift
    return date(index // 12, index % 12 + 1, 1)


def demo_window(today: date) -> tuple[date, date]:
    """The demo year: the 365 days before `today` (spend and campaigns cover them);
    leads also arrive on `today` itself, up to `demo_cutoff()`."""
    return today - timedelta(days=365), today


def demo_cutoff(today: date, now: datetime) -> datetime:
    """Where the generated history stops: the current moment when `today` is the
    current date (nothing may lie in the future), else the end of `today`."""
    tz = ZoneInfo(settings.TIME_ZONE)
    if today == now.astimezone(tz).date():
        return now.astimezone(tz).replace(microsecond=0)
    following = today + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=tz)


def exhibition_periods(first: date, end: date) -> list[tuple[date, date, str]]:
    periods = []
    for year in range(first.year, end.year + 1):
        for month, day, name in EXHIBITIONS:
            start = date(year, month, day)
            if start < end and start + timedelta(days=EXHIBITION_LEAD_DAYS) > first:
                periods.append((start, start + timedelta(days=EXHIBITION_LEAD_DAYS), name))
    return periods


def ensure_reference_data(today: date, seed: int, leads: int = DEFAULT_LEADS) -> Reference:
    """Upsert sources, campaigns, products, segments, checklist lines and spend."""
    first, end = demo_window(today)
    first_month = month_start(first)

    sources = {}
    for profile in SOURCES:
        sources[profile.code], _ = Source.objects.update_or_create(
            code=profile.code, defaults={"name": profile.name, "kind": profile.kind, "is_active": True}
        )

    campaigns: dict[str, list] = {code: [] for code in sources}
    for profile in CAMPAIGNS:
        starts_on = month_start(first_month, profile.start_month)
        ends_on = None
        if profile.end_month is not None:
            ends_on = month_start(first_month, profile.end_month + 1) - timedelta(days=1)
        campaign, _ = Campaign.objects.update_or_create(
            source=sources[profile.source],
            code=profile.code,
            defaults={
                "name": profile.name,
                "utm_source": profile.utm_source,
                "utm_medium": profile.utm_medium,
                "utm_campaign": profile.utm_campaign,
                "starts_on": starts_on,
                "ends_on": ends_on,
                "is_active": ends_on is None or ends_on >= end,
            },
        )
        campaigns[profile.source].append((campaign, profile))

    products = {}
    for code, name, _weight, _amounts in PRODUCTS:
        products[code], _ = Product.objects.update_or_create(
            code=code, defaults={"name": name, "is_active": True}
        )

    segments = {}
    for data in SEGMENTS:
        data = dict(data)
        code = data.pop("code")
        segments[code], _ = Segment.objects.update_or_create(code=code, defaults={**data, "is_active": True})

    for segment_code, level, code, position, text_ru, text_en in SEGMENT_CRITERIA:
        QualificationCriterion.objects.update_or_create(
            segment=segments[segment_code],
            level=level,
            code=code,
            defaults={"position": position, "text_ru": text_ru, "text_en": text_en, "is_active": True},
        )

    _upsert_spend(sources, campaigns, first, end, seed, leads)
    return Reference(sources=sources, campaigns=campaigns, products=products, segments=segments)


def _upsert_spend(sources, campaigns, first: date, end: date, seed: int, leads: int) -> None:
    # Its own random stream, so the amounts do not shift when the lead count does.
    rng = random.Random(f"spend-{seed}")
    scale = max(leads, 1) / DEFAULT_LEADS
    months = []
    month = month_start(first)
    while month < end:
        months.append(month)
        month = month_start(month, 1)

    def share_of_month(month: date, active_from: date, active_to: date) -> float:
        """The part of `month` that is inside the demo year and the active period."""
        next_month = month_start(month, 1)
        lo, hi = max(month, first, active_from), min(next_month, end, active_to)
        return max((hi - lo).days, 0) / (next_month - month).days

    def amount(base: float, month: date, share: float) -> Decimal:
        growth = 0.85 + 0.3 * (month - first).days / 365
        value = base * scale * share * growth * SEASONALITY[month.month] * rng.uniform(0.85, 1.15)
        return Decimal(round(value, -2)).quantize(Decimal("0.01"))

    for source_code, items in campaigns.items():
        for campaign, profile in items:
            if not profile.monthly_spend:
                continue
            active_to = campaign.ends_on + timedelta(days=1) if campaign.ends_on else end
            for month in months:
                share = share_of_month(month, campaign.starts_on, active_to)
                if share <= 0:
                    continue
                Spend.objects.update_or_create(
                    campaign=campaign,
                    month=month,
                    defaults={
                        "source": sources[source_code],
                        "amount": amount(profile.monthly_spend, month, share),
                        "currency": "RUB",
                    },
                )
    for month in months:
        share = share_of_month(month, first, end)
        Spend.objects.update_or_create(
            source=sources["webinars"],
            campaign=None,
            month=month,
            defaults={"amount": amount(WEBINAR_MONTHLY_SPEND, month, share), "currency": "RUB"},
        )
    for start, _stop, _name in exhibition_periods(first, end):
        if start < first:
            continue  # paid before the demo year began
        Spend.objects.update_or_create(
            source=sources["exhibitions"],
            campaign=None,
            month=month_start(start),
            defaults={"amount": amount(rng.uniform(*EXHIBITION_SPEND), start, 1.0), "currency": "RUB"},
        )


# --- teams, users, calendars, shifts, routing -------------------------------------------------------


def demo_users_exist() -> bool:
    return User.objects.filter(username__in=DEMO_USERNAMES).count() == len(DEMO_USERNAMES)


def ensure_calendars() -> dict[str, BusinessCalendar]:
    """The company's default calendar (seeded by a migration; recreated if missing)
    and the teams' own ones. Created when missing, never overwritten."""
    seed_defaults()
    calendars = {DEFAULT_CALENDAR_CODE: BusinessCalendar.objects.get(code=DEFAULT_CALENDAR_CODE)}
    for code, data in CALENDARS.items():
        calendar, created = BusinessCalendar.objects.get_or_create(
            code=code,
            defaults={
                "name": data["name"],
                "timezone": data["timezone"],
                "holiday_country": data["holiday_country"],
            },
        )
        if created:
            for weekday in range(5):
                for opens, closes in data["hours"]:
                    WorkingHours.objects.create(
                        calendar=calendar, weekday=weekday, opens=opens, closes=closes
                    )
            calendar.refresh_from_db()
        calendars[code] = calendar
    return calendars


def ensure_users(calendars: dict[str, BusinessCalendar] | None = None) -> dict[str, User]:
    """Upsert the teams (calendar, distribution mode), the demo users (all with the
    password «demo») and the reps' weekly shifts (only for reps who have none)."""
    calendars = calendars or ensure_calendars()
    teams = {}
    for code, name, kind, _head in TEAMS:
        defaults = {"name": name, "kind": kind}
        if code in TEAM_SETUP:
            setup = TEAM_SETUP[code]
            defaults |= {"calendar": calendars[setup.calendar], "distribution_mode": setup.mode}
        teams[code], _ = Team.objects.update_or_create(code=code, defaults=defaults)
    # Hashing is deliberately slow; one hash serves every demo user.
    password = make_password(DEMO_PASSWORD)
    users = {}
    for username, first_name, last_name, role, team_code in USERS:
        user = User.objects.filter(username=username).first() or User(username=username)
        user.first_name, user.last_name = first_name, last_name
        user.email = f"{username}@{EMAIL_DOMAIN}"
        user.role = role
        user.team = teams[team_code] if team_code else None
        user.is_active = True
        user.password = password
        if username in REPS:
            user.lead_weight = REPS[username].weight
        user.save()  # save() keeps the role's group in step
        users[username] = user
    for code, _name, _kind, head in TEAMS:
        Team.objects.filter(pk=teams[code].pk).update(head=users[head])
    with_shifts = set(Shift.objects.filter(user__username__in=REPS).values_list("user__username", flat=True))
    Shift.objects.bulk_create(
        Shift(
            user=users[username], weekday=weekday, starts=time(profile.shift[0]), ends=time(profile.shift[1])
        )
        for username, profile in REPS.items()
        if username not in with_shifts
        for weekday in range(5)
    )
    return users


def ensure_routing(ref: Reference, users: dict[str, User]) -> dict[str | None, RoutingRule]:
    """Upsert the routing rules (keyed by their condition), by product code."""
    teams = {u.team.code: u.team for u in users.values() if u.team}
    rules = {}
    for product_code, team_code, position in ROUTES:
        product = ref.products[product_code] if product_code else None
        rules[product_code], _ = RoutingRule.objects.update_or_create(
            source=None,
            segment=None,
            product=product,
            defaults={"team": teams[team_code], "position": position, "is_active": True},
        )
    return rules


def ensure_absence(users: dict[str, User], today: date) -> Absence:
    """The demo vacation around `today` (a previous run's is replaced)."""
    rep = users[ABSENT_REP]
    Absence.objects.filter(user__username__in=REPS, note=ABSENCE_NOTE).delete()
    return Absence.objects.create(
        user=rep,
        kind=Absence.Kind.VACATION,
        starts_on=today + timedelta(days=ABSENCE_DAYS[0]),
        ends_on=today + timedelta(days=ABSENCE_DAYS[1]),
        note=ABSENCE_NOTE,
    )


# --- telling demo leads apart, deleting them (--reset) ------------------------------------------


def _marked():
    """Requests the demo sent through intake (see DEMO_MARK)."""
    return InboundRequest.objects.filter(lead=OuterRef("pk"), extra__has_key=DEMO_MARK)


def demo_leads():
    return Lead.objects.filter(Exists(_marked()))


def real_leads():
    """Leads the demo did not make: imported, typed in, or from a live intake."""
    return Lead.objects.exclude(Exists(_marked()))


def delete_demo_leads() -> int:
    """Remove the demo's leads with everything hanging off them (the database
    cascades: requests, timers, breaches, assignments, history…), the outbox rows
    about them, and their contacts unless a real lead still has them."""
    leads = demo_leads()
    contact_ids = set(leads.values_list("contact_id", flat=True))
    Notification.objects.filter(lead__in=leads).delete()
    Deal.objects.filter(lead__in=leads).delete()  # protected: a deal is never lost by accident
    deleted, _ = Lead.objects.filter(pk__in=leads.values("pk")).delete()
    Contact.objects.filter(pk__in=contact_ids, leads__isnull=True).delete()
    return deleted
