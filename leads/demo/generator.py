"""A year of demo leads, each taken in by the product's intake (`take_lead`): the
contact, the lead, its request, its first-contact clock on the team's calendar and
who gets it (routing and `choose_rep`) are the product's decisions. A lead that
arrives while its team is closed waits in the queue and is handed out at the
opening (`assign_automatically`, as the queue does); now and then a head gives a
lead to someone else (`assign_manually`). Then leads.demo.story tells what the rep
did with it.

What the generator decides is only what the world does: when people write, from
which source and campaign, who they are and what they ask for. Everything comes
from `random.Random(seed)` and the `today` date, never from the clock — except that
when `today` is the current date, the day is cut at the current moment.
"""

import random
from bisect import bisect
from datetime import date, datetime, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from django.conf import settings

from leads.actions import criteria_for
from leads.assignment import assign_automatically, assign_manually, roster
from leads.choices import AssignmentKind, EntryChannel
from leads.demo.company import (
    ABSENCE_DAYS,
    ABSENT_REP,
    CATCH_ALL_TEAM,
    COMMENTS,
    COMPANY_ADJECTIVE_NAMES,
    COMPANY_PREFIXES,
    COMPANY_SUFFIXES,
    DAY_CLOSES,
    DAY_OPENS,
    DEMO_MARK,
    DEMO_MARK_VALUE,
    FAILED_CALL_OUTCOMES_WEIGHTS,
    FAILED_CALLS_BEFORE_REACHING,
    FEMALE_FIRST,
    FORM,
    FRESH,
    LEGAL_FORMS,
    MALE_FIRST,
    MEETING_FAILURES,
    MOBILE_CODES,
    NO_MEETING_FAILURES,
    OFF_HOUR_WEIGHTS,
    OFF_HOURS,
    POSITIONS,
    PRODUCTS,
    PROPOSAL_FAILURES,
    REPS,
    ROUTED_PRODUCTS,
    SEASONALITY,
    SITE,
    SOURCE_BY_CODE,
    SOURCES,
    SQL_FAILURES,
    SURNAMES,
    TEAM_SETUP,
    TEAMS,
    UNKNOWN_PRODUCT_TEXTS,
    UPSELL_PRODUCTS,
    WORK_HOUR_WEIGHTS,
    translit,
)
from leads.demo.setup import Reference, demo_window, exhibition_periods
from leads.demo.story import Rows, Story
from leads.intake import Submission, take_lead
from leads.models import Contact, Lead, QualificationCriterion, RejectionReason, Stage
from revops.models import User
from sla.availability import availability
from sla.business_time import add_working_time, next_working_moment, windows
from sla.calendars import schedule_for
from sla.models import SlaPolicy, SlaTimer, TimerKind

BATCH = 200  # leads whose stories are written together


class Picker:
    """Weighted choice with precomputed cumulative weights."""

    def __init__(self, weights: dict):
        self.items = list(weights)
        self.cum = list(accumulate(weights.values()))
        self.total = self.cum[-1] + 0.0
        self.hi = len(self.items) - 1

    def __call__(self, rng: random.Random):
        return self.items[bisect(self.cum, rng.random() * self.total, 0, self.hi)]


def working_moment_before(schedule, end: datetime, amount: timedelta) -> datetime | None:
    """The moment `amount` of working time before `end` (None if more than a week back)."""
    for start, stop in reversed(list(windows(schedule, end - timedelta(days=7), end))):
        if stop - start >= amount:
            return stop - amount
        amount -= stop - start
    return None


class Generator:
    def __init__(self, ref: Reference, users: dict[str, User], *, seed: int, today: date, cutoff: datetime):
        self.ref, self.users = ref, users
        self.rng = random.Random(seed)
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.first, self.today = demo_window(today)[0], today
        self.end = cutoff  # nothing happens at or after it
        self.exhibitions = exhibition_periods(self.first, today)

        self.teams = {code: users[head].team for code, _name, _kind, head in TEAMS if code in TEAM_SETUP}
        self.schedules = {team.pk: schedule_for(team.calendar) for team in self.teams.values()}
        self.heads = {team.pk: users[head] for code, _n, _k, head in TEAMS if (team := self.teams.get(code))}
        # When clients write: the company's (Moscow) calendar.
        self.company_schedule = self.schedules[self.teams[CATCH_ALL_TEAM].pk]
        start, stop = (today + timedelta(days=d) for d in ABSENCE_DAYS)
        absent_tz = self.schedules[users[ABSENT_REP].team_id].tz
        # The rep went on vacation: their leads left open wait for them.
        self.absence_starts = datetime(start.year, start.month, start.day, tzinfo=absent_tz)

        base = {s.code: s.weight for s in SOURCES}
        self.source_picker = Picker(base)
        self.exhibition_source_picker = Picker({**base, "exhibitions": 45})
        self.channel_pickers = {s.code: Picker(s.channels) for s in SOURCES}
        self.segment_pickers = {s.code: Picker(s.segments) for s in SOURCES}
        self.early_pickers = {s.code: Picker(s.early_reasons) for s in SOURCES}
        self.unreached_pickers = {s.code: Picker(s.unreached) for s in SOURCES}
        self.product_picker = Picker({code: w for code, _n, w, _a in PRODUCTS})
        self.team_product_pickers = {
            team: Picker(
                {code: w for code, _n, w, _a in PRODUCTS if ROUTED_PRODUCTS.get(code, CATCH_ALL_TEAM) == team}
            )
            for team in TEAM_SETUP
        }
        self.product_amounts = {code: amounts for code, _n, _w, amounts in PRODUCTS}
        self.product_codes = {p.pk: code for code, p in ref.products.items()}
        self.position_picker = Picker(dict(POSITIONS))
        self.legal_picker = Picker(dict(LEGAL_FORMS))
        self.failed_first_picker = Picker(FAILED_CALLS_BEFORE_REACHING)
        self.failed_picker = Picker(FAILED_CALL_OUTCOMES_WEIGHTS)
        self.sql_fail_picker = Picker(SQL_FAILURES)
        self.no_meeting_picker = Picker(NO_MEETING_FAILURES)
        self.meeting_fail_picker = Picker(MEETING_FAILURES)
        self.proposal_fail_picker = Picker(PROPOSAL_FAILURES)
        self.companies = [(f"«{n}»", translit(n)) for n in COMPANY_ADJECTIVE_NAMES] + [
            (f"«{p}{s}»", translit(p + s)) for p in COMPANY_PREFIXES for s in COMPANY_SUFFIXES
        ]
        self.active_campaigns: dict[tuple[str, date], Picker | None] = {}
        self._criteria: dict[int, list[QualificationCriterion]] = {}
        self.stages = Stage.objects.in_bulk(field_name="code")
        self.stages_by_id = {stage.pk: stage for stage in self.stages.values()}
        self.teams_by_id = {team.pk: team for team in self.teams.values()}
        self.users_by_id = {user.pk: user for user in users.values()}
        self.policies = SlaPolicy.objects.in_bulk()
        self.reasons = RejectionReason.objects.in_bulk(field_name="code")
        self.rows = Rows()
        self.pending_contacts: set[int] = set()  # contacts of leads whose story is not written yet

        # Phones and emails must not collide with contacts already in the database.
        self.taken_phones = set(Contact.objects.exclude(phone="").values_list("phone", flat=True))
        self.taken_emails = set(Contact.objects.exclude(email="").values_list("email", flat=True))
        self.phone_index = 0
        self.phone_offset = self.rng.randrange(10**7)
        # People whose lead has closed and who may come back with a new request.
        self.returning_pool: list[tuple[datetime, dict, object]] = []
        self.won_contacts: set[int] = set()  # contacts with a won deal

    # --- small lookups for the story ------------------------------------------------------------

    def skill(self, rep: User | None) -> float:
        return REPS[rep.username].skill if rep else 1.0

    def first_call_minutes(self, rep: User) -> float:
        return REPS[rep.username].first_call_minutes

    def end_for(self, rep: User | None) -> datetime:
        if rep is not None and rep.username == ABSENT_REP:
            return min(self.end, self.absence_starts)
        return self.end

    def product_code(self, lead: Lead) -> str | None:
        return self.product_codes.get(lead.product_id)

    def criteria(self, segment) -> list[QualificationCriterion]:
        """The checklist of a lead of `segment` (leads.actions.criteria_for)."""
        if segment.pk not in self._criteria:
            lines = criteria_for(Lead(segment=segment)).order_by("level", "position", "id")
            self._criteria[segment.pk] = list(lines)
        return self._criteria[segment.pk]

    # --- arrival times -----------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        return bool(self.company_schedule.windows_on(day))

    def arrival_times(self, n: int) -> list[datetime]:
        """`n` arrival moments over the demo year and `today` up to the cut: busier on
        working days, in working hours, in the busy season and in recent months (the
        business grows)."""
        rng = self.rng
        hour_weights = {}
        for day_kind in (True, False):
            weights = dict.fromkeys(range(24), 0.0)
            if day_kind:
                for hour, w in zip(range(DAY_OPENS, DAY_CLOSES), WORK_HOUR_WEIGHTS, strict=True):
                    weights[hour] = 0.85 * w / sum(WORK_HOUR_WEIGHTS)
                for hour, w in zip(OFF_HOURS, OFF_HOUR_WEIGHTS, strict=True):
                    weights[hour] = 0.15 * w / sum(OFF_HOUR_WEIGHTS)
            else:
                for hour in range(10, 23):
                    weights[hour] = 1 / 13
            hour_weights[day_kind] = weights
        days, weights = [], []
        for offset in range(366):
            day = self.first + timedelta(days=offset)
            working = self.is_working_day(day)
            weight = (1.0 if working else 0.15) * SEASONALITY[day.month] * (0.8 + 0.45 * offset / 365)
            if day == self.today:
                # Only the part of the day before the cut.
                weight *= sum(w * self._hour_share(day, h) for h, w in hour_weights[working].items())
            days.append(day)
            weights.append(weight)
        work_hours = Picker(dict(zip(range(DAY_OPENS, DAY_CLOSES), WORK_HOUR_WEIGHTS, strict=True)))
        off_hours = Picker(dict(zip(OFF_HOURS, OFF_HOUR_WEIGHTS, strict=True)))
        times = []
        for day in rng.choices(days, weights=weights, k=n):
            working = self.is_working_day(day)
            if day != self.today:
                if working:
                    hour = work_hours(rng) if rng.random() < 0.85 else off_hours(rng)
                else:
                    hour = rng.randrange(10, 23)
                minute, second = rng.randrange(60), rng.randrange(60)
                times.append(datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=self.tz))
                continue
            hours = [(h, w * self._hour_share(day, h)) for h, w in hour_weights[working].items()]
            hour = rng.choices([h for h, _ in hours], weights=[w for _, w in hours])[0]
            start = datetime(day.year, day.month, day.day, hour, tzinfo=self.tz)
            span = min(3600, int((self.end - start).total_seconds()))
            times.append(start + timedelta(seconds=rng.randrange(max(span, 1))))
        return times

    def _hour_share(self, day: date, hour: int) -> float:
        """How much of `hour` on `day` lies before the cut (0…1)."""
        start = datetime(day.year, day.month, day.day, hour, tzinfo=self.tz)
        return min(max((self.end - start).total_seconds() / 3600, 0.0), 1.0)

    def fresh_arrivals(self, limit: int) -> list[tuple[datetime, str, bool]]:
        """Leads that arrived `FRESH` working minutes before the cut, as many per team
        as it has reps: (arrival, team code, whether the rep has called since)."""
        found = []
        for age, worked in FRESH:
            for code, team in self.teams.items():
                schedule = self.schedules[team.pk]
                for i, _rep in enumerate(r for r in REPS if self.users[r].team_id == team.pk):
                    at = working_moment_before(schedule, self.end, timedelta(minutes=age, seconds=41 * i))
                    if at is not None and at < self.end:
                        found.append((at.astimezone(self.tz).replace(microsecond=0), code, worked))
        return found[:limit]

    # --- people ------------------------------------------------------------------------------------

    def next_phone(self) -> str:
        # A permutation of the 7-digit subscriber numbers (the multiplier is coprime
        # to 10), so numbers look random yet never repeat within a run.
        while True:
            i = self.phone_index
            self.phone_index += 1
            code = MOBILE_CODES[i % len(MOBILE_CODES)]
            subscriber = (i // len(MOBILE_CODES) * 7_919_113 + self.phone_offset) % 10**7
            phone = f"+7{code}{subscriber:07d}"
            if phone not in self.taken_phones:
                self.taken_phones.add(phone)
                return phone

    def new_person(self) -> dict:
        rng = self.rng
        female = rng.random() < 0.4
        first_name = rng.choice(FEMALE_FIRST if female else MALE_FIRST)
        last_name = rng.choice(SURNAMES) + ("а" if female else "")
        # Forms often ask for the first name only.
        name = first_name if rng.random() < 0.12 else f"{first_name} {last_name}"
        legal = self.legal_picker(rng)
        if legal == "ИП":
            company = f"ИП {last_name} {first_name[0]}. {rng.choice(MALE_FIRST)[0]}."
            domain = translit(last_name)
        else:
            brand, domain = rng.choice(self.companies)
            company = f"{legal} {brand}"
        if rng.random() < 0.04:
            company = ""  # a data-quality problem the report shows
        email = ""
        if rng.random() < 0.75:
            first, last = translit(first_name), translit(last_name)
            roll = rng.random()
            if roll < 0.45:
                local = f"{first}.{last}"
            elif roll < 0.7:
                local = f"{first[0]}.{last}"
            elif roll < 0.85:
                local = last
            else:
                local = rng.choice(["info", "sales", "zakupki"])
            # Reserved .example domains: demo mail can never reach a real company.
            email = f"{local}@{domain}.example"
            suffix = 2
            while email in self.taken_emails:
                email = f"{local}{suffix}@{domain}.example"
                suffix += 1
            self.taken_emails.add(email)
        return {"phone": self.next_phone(), "email": email, "name": name, "company": company}

    def returning(self, created_at: datetime):
        """A person whose earlier lead has closed, now back with a new request."""
        pool = self.returning_pool
        for _ in range(3):
            if not pool:
                break
            index = self.rng.randrange(len(pool))
            closed_at, person, segment = pool[index]
            if closed_at < created_at:
                pool[index] = pool[-1]
                pool.pop()
                if person["contact_id"] in self.pending_contacts:
                    self.write()  # intake must see the earlier lead closed
                return dict(person), segment
        return None, None

    def campaign_for(self, source_code: str, day: date):
        key = (source_code, day)
        if key not in self.active_campaigns:
            active = [
                (c, p)
                for c, p in self.ref.campaigns.get(source_code, [])
                if (c.starts_on is None or c.starts_on <= day) and (c.ends_on is None or day <= c.ends_on)
            ]
            self.active_campaigns[key] = Picker({c: p.weight for c, p in active}) if active else None
        picker = self.active_campaigns[key]
        return picker(self.rng) if picker else None

    # --- one lead ----------------------------------------------------------------------------------

    def submission(self, created: datetime, team_code: str | None):
        """What the person sent: (submission, source profile, segment, returning client)."""
        rng, ref = self.rng, self.ref
        in_exhibition = any(start <= created.date() < stop for start, stop, _ in self.exhibitions)
        source_code = (self.exhibition_source_picker if in_exhibition else self.source_picker)(rng)
        profile = SOURCE_BY_CODE[source_code]
        campaign = self.campaign_for(source_code, created.date())
        utm = {}
        if campaign is not None:
            utm = {"utm_source": campaign.utm_source, "utm_medium": campaign.utm_medium}
            utm["utm_campaign"] = campaign.utm_campaign
            if source_code == "yandex_direct" and rng.random() < 0.6:
                utm["utm_term"] = rng.choice(["crm для бизнеса", "программа для склада", "купить тсд", "wms"])
        elif source_code == "seo" and rng.random() < 0.7:
            utm = {"utm_source": "yandex", "utm_medium": "organic"}

        person, segment = None, None
        if self.returning_pool and rng.random() < 0.04:
            person, segment = self.returning(created)
        # A client coming back buys more: support, training, another rollout.
        is_client = person is not None and person.pop("contact_id") in self.won_contacts
        if person is None:
            person = self.new_person()
            segment = ref.segments[self.segment_pickers[source_code](rng)]

        roll = rng.random()
        product = ""
        if team_code is not None:
            product = self.team_product_pickers[team_code](rng)  # a product routed to that team
        elif is_client:
            product = rng.choice(UPSELL_PRODUCTS)
        elif roll < 0.92:
            product = self.product_picker(rng)
        elif roll < 0.95:
            product = rng.choice(UNKNOWN_PRODUCT_TEXTS)  # a code marketing has yet to map
        known = product in self.product_amounts
        comment = rng.choice(COMMENTS[product] if known and rng.random() < 0.8 else COMMENTS[""])
        sub = Submission(
            source=ref.sources[source_code],
            channel=self.channel_pickers[source_code](rng),
            product=product,
            comment=comment,
            landing_page=f"{SITE}/{product if known else 'contacts'}/" if FORM in profile.channels else "",
            utm=utm,
            extra={DEMO_MARK: DEMO_MARK_VALUE},
            received_at=created,
            **person,
        )
        return sub, profile, segment, is_client

    def make_lead(self, created: datetime, team_code: str | None = None, worked: bool = True) -> None:
        rng = self.rng
        sub, profile, segment, is_client = self.submission(created, team_code)
        # The story is written as history: a person back after nurture opens a
        # new lead, as before leads came back from nurture (the data stay as they were).
        outcome = take_lead(sub, notify_owner=False, return_nurtured=False)
        assert not outcome.repeat, "demo people are unique, or come back after their lead closed"
        # Plain reads, their relations from what is at hand (a join costs more here).
        lead = Lead.objects.get(pk=outcome.lead_id)
        lead.stage = lead.furthest_stage = self.stages_by_id[lead.stage_id]
        lead.team = self.teams_by_id[lead.team_id]
        lead.owner = self.users_by_id.get(lead.owner_id)
        timer = SlaTimer.objects.get(lead=lead, kind=TimerKind.FIRST_CONTACT)
        timer.policy = self.policies[timer.policy_id]
        schedule = self.schedules[lead.team_id]
        history = [(created, lead.owner)]
        since = created
        if lead.owner is None:
            # Outside the team's hours: the queue hands it out at the opening.
            opens = next_working_moment(schedule, created)
            if created < opens < self.end:
                assign_automatically(lead, kind=AssignmentKind.QUEUE, at=opens)
                lead.refresh_from_db(fields=["owner"])
                lead.owner = self.users_by_id.get(lead.owner_id)
                since = opens
                history.append((opens, lead.owner))
        if lead.owner is not None and rng.random() < 0.015:
            since = self.hand_over(lead, since, schedule)
            history.append((since, lead.owner))
        if lead.owner is None:
            self.rows.leads.append(lead)  # waits in the queue: nothing happened yet
            self.rows.timers.append(timer)
            Story(self, lead, timer, history, profile, segment, is_client=False).clock()
            return
        story = Story(self, lead, timer, history, profile, segment, is_client=is_client)
        story.run(since, worked)
        self.pending_contacts.add(lead.contact_id)
        # The same person writes again within ten days while the lead is open: a repeat request.
        if rng.random() < 0.08:
            again = created + timedelta(seconds=rng.randrange(3600, 864_000))
            if again < self.end and (lead.closed_at is None or again < lead.closed_at):
                self.repeat(sub, again)
        if lead.closed_at is not None and rng.random() < (0.7 if story.won else 0.03):
            person = {"phone": sub.phone, "email": sub.email, "name": sub.name, "company": sub.company}
            self.returning_pool.append((lead.closed_at, {**person, "contact_id": lead.contact_id}, segment))
        if len(self.rows.leads) >= BATCH:
            self.write()

    def repeat(self, sub: Submission, at: datetime) -> None:
        rng = self.rng
        take_lead(
            Submission(
                source=sub.source,
                channel=rng.choice([EntryChannel.CALL, EntryChannel.FORM, EntryChannel.CHAT]),
                phone=sub.phone,
                email=sub.email,
                product=sub.product,
                comment=rng.choice(["Оставлял заявку, со мной так и не связались", "Уточните сроки", ""]),
                utm=sub.utm,
                extra=sub.extra,
                received_at=at,
            ),
            notify_owner=False,
            return_nurtured=False,  # the lead was open then, whatever the batch wrote since
        )

    def write(self) -> None:
        self.rows.write()
        self.pending_contacts.clear()

    def hand_over(self, lead: Lead, since: datetime, schedule) -> datetime:
        """The rep has not called for a while: the head gives the lead to someone else."""
        at = add_working_time(schedule, since, timedelta(minutes=self.rng.uniform(30, 150)))
        if at >= self.end:
            return since
        others = [
            rep
            for rep in roster(lead.team)
            if rep != lead.owner and availability(rep, schedule, at).available
        ]
        if not others:
            return since
        assign_manually(lead, others[0], self.heads[lead.team_id], at=at)
        lead.owner = self.users_by_id[others[0].pk]
        return at

    def generate(self, n: int) -> None:
        fresh = self.fresh_arrivals(limit=n // 15)
        arrivals = [(t, None, True) for t in self.arrival_times(n - len(fresh))] + fresh
        arrivals.sort(key=lambda item: item[0])
        for created, team_code, worked in arrivals:
            self.make_lead(created, team_code, worked)
        self.write()
