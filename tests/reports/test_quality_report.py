"""The data-quality report (issue #12): open leads without product, segment or
company, idle ones, those waiting for an owner, vague "other" rejections; per
owner and team; "now"; and the dashboard's data_quality_pct."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext
from rest_framework.exceptions import ValidationError

from leads.choices import AttemptChannel, AttemptOutcome
from leads.models import ContactAttempt, LeadEvent, RejectionReason, StageChange
from leads.quality import idle_cutoff
from reports.base import get_report
from reports.params import parse_params
from reports.quality import data_quality_pct, parse_idle_days
from tests.factories import (
    ContactFactory,
    LeadFactory,
    ProductFactory,
    SegmentFactory,
    UserFactory,
    stage,
)

MSK = ZoneInfo("Europe/Moscow")
# Thursday 16 April 2026, noon in Moscow: three working days back is Monday the 13th.
NOW = dt.datetime(2026, 4, 16, 12, 0, tzinfo=MSK)
CUTOFF_3 = dt.datetime(2026, 4, 13, 0, 0, tzinfo=MSK)


class WithExtra:
    """ReportParams with the report's own parameters beside (params.extra)."""

    def __init__(self, params, extra):
        self._params, self.extra = params, extra

    def __getattr__(self, name):
        return getattr(self._params, name)


def report():
    return get_report("quality")


def params_for(user, query=""):
    return parse_params(QueryDict(query), user, report())


def compute(user, query=""):
    return report().compute(params_for(user, query), now=NOW)


def complete_lead(owner, **extra):
    """An open lead with nothing missing and an attempt yesterday."""
    fields = {
        "owner": owner,
        "product": ProductFactory(),
        "segment": SegmentFactory(),
        "created_at": NOW - dt.timedelta(days=20),
        "stage": stage("qualification"),
    }
    fields.update(extra)
    lead = LeadFactory(**fields)
    ContactAttempt.objects.create(
        lead=lead,
        channel=AttemptChannel.CALL,
        outcome=AttemptOutcome.REACHED,
        made_at=NOW - dt.timedelta(days=1),
        made_by=owner,
    )
    return lead


def reject(lead, code, comment):
    lost = stage("lost")
    lead.stage = lost
    lead.rejection_reason = RejectionReason.objects.get(code=code)
    lead.rejection_comment = comment
    lead.save()


def test_idle_cutoff_counts_working_days_on_the_default_calendar(db):
    assert idle_cutoff(3, NOW) == CUTOFF_3
    assert idle_cutoff(1, NOW) == dt.datetime(2026, 4, 15, tzinfo=MSK)
    # Four: over the weekend to Friday the 10th.
    assert idle_cutoff(4, NOW) == dt.datetime(2026, 4, 10, tzinfo=MSK)
    # Over the May holidays of 2026 (1 May Friday, 11 May Monday off): from Tuesday 12 May.
    assert idle_cutoff(2, dt.datetime(2026, 5, 12, 10, tzinfo=MSK)) == dt.datetime(2026, 5, 7, tzinfo=MSK)


@pytest.fixture
def dataset(rep, teammate, other_rep, head):
    good = complete_lead(rep)
    no_product = complete_lead(rep, product=None)
    no_segment = complete_lead(teammate, segment=None)
    no_company = complete_lead(teammate, contact=ContactFactory(company=""))
    waiting = complete_lead(None, team=rep.team)  # no owner: in the team's queue
    # Idle: last attempt before the cutoff; a stage change long ago; only its arrival recently.
    idle = LeadFactory(
        owner=other_rep,
        product=ProductFactory(),
        segment=SegmentFactory(),
        created_at=NOW - dt.timedelta(days=30),
    )
    ContactAttempt.objects.create(
        lead=idle,
        channel=AttemptChannel.CALL,
        outcome=AttemptOutcome.NO_ANSWER,
        made_at=CUTOFF_3 - dt.timedelta(minutes=1),
    )
    StageChange.objects.create(
        lead=idle,
        from_stage=stage("lead"),
        to_stage=stage("qualification"),
        changed_at=NOW - dt.timedelta(days=9),
    )
    untouched = LeadFactory(
        owner=other_rep,
        product=ProductFactory(),
        segment=SegmentFactory(),
        created_at=NOW - dt.timedelta(hours=1),
    )
    # The arrival's own history row is not activity.
    StageChange.objects.create(
        lead=untouched, from_stage=None, to_stage=stage("lead"), changed_at=untouched.created_at
    )
    # A note keeps a lead active; a stage change too.
    noted = complete_lead(other_rep)
    ContactAttempt.objects.filter(lead=noted).update(made_at=NOW - dt.timedelta(days=10))
    LeadEvent.objects.create(lead=noted, kind=LeadEvent.Kind.NOTE, created_at=CUTOFF_3, data={"text": "x"})
    moved = complete_lead(other_rep)
    ContactAttempt.objects.filter(lead=moved).update(made_at=NOW - dt.timedelta(days=10))
    StageChange.objects.create(
        lead=moved,
        from_stage=stage("lead"),
        to_stage=stage("qualification"),
        changed_at=NOW - dt.timedelta(hours=2),
    )
    # Rejections as "other": one word and empty are vague; a sentence is not; another reason is not.
    vague = complete_lead(rep)
    reject(vague, "other", "  дорого ")
    empty = complete_lead(rep)
    reject(empty, "other", "")
    explained = complete_lead(rep)
    reject(explained, "other", "Купили у партнёра в прошлом месяце")
    spam = complete_lead(rep)
    reject(spam, "spam", "")
    # A duplicate counts nowhere; a won lead is not open.
    dup = complete_lead(rep, product=None)
    reject(dup, "duplicate", "")
    complete_lead(rep, stage=stage("deal"), product=None)
    return {
        "good": good,
        "no_product": no_product,
        "no_segment": no_segment,
        "no_company": no_company,
        "waiting": waiting,
        "idle": idle,
        "untouched": untouched,
        "vague": vague,
        "empty": empty,
    }


def by_key(result):
    return {row["key"]: row for row in result["rows"]}


def test_by_owner_counts_every_problem(dataset, ceo, rep, teammate, other_rep):
    result = compute(ceo, "by=owner")
    rows = by_key(result)
    assert set(rows) == {rep.pk, teammate.pk, other_rep.pk, None}
    fields = (
        "open_leads",
        "no_product",
        "no_segment",
        "no_company",
        "idle",
        "no_owner",
        "with_problems",
        "vague_other",
    )

    def counts(row):
        return tuple(row[f] for f in fields)

    assert counts(rows[rep.pk]) == (2, 1, 0, 0, 0, 0, 1, 2)
    assert counts(rows[teammate.pk]) == (2, 0, 1, 1, 0, 0, 2, 0)
    assert counts(rows[other_rep.pk]) == (4, 0, 0, 0, 2, 0, 2, 0)
    assert counts(rows[None]) == (1, 0, 0, 0, 0, 1, 1, 0)
    assert rows[rep.pk]["quality_pct"] == "50.0"
    assert rows[teammate.pk]["quality_pct"] == "0.0"
    assert rows[None]["label"] == gettext("unassigned")
    total = result["total"]
    assert counts(total) == (9, 1, 1, 1, 2, 1, 6, 2)
    assert total["quality_pct"] == "33.3"  # 3 of 9 open leads without problems
    assert result["idle_days"] == 3
    assert result["idle_since"].startswith("2026-04-13T00:00")
    # Unassigned last; the rest by name.
    assert result["rows"][-1]["key"] is None


def test_by_team_and_scoping(dataset, ceo, head, rep, other_rep):
    result = compute(ceo, "by=team")
    rows = by_key(result)
    assert rows[rep.team_id]["open_leads"] == 5  # rep's 2, teammate's 2, the waiting one
    assert rows[other_rep.team_id]["open_leads"] == 4
    # A head sees the team; a rep their own leads only.
    assert compute(head, "by=team")["total"]["open_leads"] == 5
    mine = compute(rep, "by=owner")
    assert set(by_key(mine)) == {rep.pk}
    assert mine["total"]["vague_other"] == 2


def test_idle_days_parameter(dataset, ceo):
    # The report reads its own parameters from params.extra (QualityReport.parse_extra).
    assert report().parse_extra(QueryDict("idle_days=10")) == {"idle_days": 10}
    params = WithExtra(params_for(ceo), {"idle_days": 10})
    result = report().compute(params, now=NOW)
    # Ten working days back: the idle lead's stage change (9 calendar days ago) is recent enough.
    assert result["total"]["idle"] == 1  # the untouched one only
    assert result["idle_days"] == 10
    assert "idle_days=10" in result["total"]["links"]["idle"]
    assert parse_idle_days(QueryDict("idle_days=5")) == 5
    assert parse_idle_days(QueryDict("")) == 3
    for bad in ("0", "-1", "abc", "251", "1.5", "9" * 30):
        with pytest.raises(ValidationError) as caught:
            parse_idle_days(QueryDict(f"idle_days={bad}"))
        assert "idle_days" in caught.value.detail


def test_links_drop_the_period_and_name_the_problem(dataset, ceo, rep):
    result = compute(ceo, "by=owner&date_from=2026-04-01&date_to=2026-04-16")
    links = by_key(result)[rep.pk]["links"]
    assert links["no_product"].startswith("/leads/?")
    assert "period_from" not in links["no_product"] and "mode=" not in links["no_product"]
    assert f"owner={rep.pk}" in links["no_product"] and "problem=no_product" in links["no_product"]
    assert "problem=idle" in links["idle"] and "idle_days=3" in links["idle"]
    assert "status=open" in links["open_leads"]
    assert "without=owner" in by_key(result)[None]["links"]["no_owner"]
    LeadFactory(owner=None, team=None, created_at=NOW)
    no_team = by_key(compute(ceo, "by=team"))[None]
    assert all("without=team" in link for link in no_team["links"].values())


def test_data_quality_pct(dataset, ceo, rep):
    with_time = params_for(ceo)
    with time_machine.travel(NOW, tick=False):
        assert data_quality_pct(with_time) == "33.3"
        assert data_quality_pct(params_for(rep)) == "50.0"


def test_no_open_lead_gives_null_pct(db, ceo):
    result = compute(ceo)
    assert result["rows"] == [] and result["total"]["open_leads"] == 0
    assert result["total"]["quality_pct"] is None
    assert data_quality_pct(params_for(ceo), now=NOW) is None


def test_query_count_does_not_depend_on_the_data(db, ceo):
    """One GROUP BY and one query for the names; the rest are reference lookups
    (stages, the calendar) that the per-process cache serves outside tests."""
    owners = [UserFactory(team=None) for _ in range(2)]
    for owner in owners:
        complete_lead(owner, product=None)
    compute(ceo)  # fills the process's caches (the calendar's schedule), as the first page view does
    with CaptureQueriesContext(connection) as small_queries:
        small = compute(ceo)
    owners += [UserFactory(team=None) for _ in range(6)]
    for owner in owners:
        for _ in range(3):
            complete_lead(owner, segment=None)
    with CaptureQueriesContext(connection) as big_queries:
        big = compute(ceo)
    assert len(big["rows"]) > len(small["rows"])
    assert len(big_queries) == len(small_queries) <= 15
    lead_queries = [q for q in big_queries.captured_queries if 'FROM "leads_lead"' in q["sql"]]
    assert len(lead_queries) == 1


@pytest.mark.parametrize("by", ["owner", "team"])
@pytest.mark.parametrize("who", ["ceo", "head", "rep"])
def test_counts_drill_down_to_exactly_those_leads(dataset, people, api, by, who):
    user = people[who]
    api.force_authenticate(user)
    with time_machine.travel(NOW, tick=False):
        result = report().compute(params_for(user, f"by={by}"))
        for row in [*result["rows"], result["total"]]:
            for field, link in row["links"].items():
                assert link.startswith("/leads/?")
                answer = api.get("/api/v1/leads/?" + link.split("?", 1)[1])
                assert answer.status_code == 200, answer.content
                assert answer.json()["count"] == row[field], (row.get("key"), field, link)


def test_lead_list_refuses_a_bad_problem_or_idle_days(db, api, ceo):
    api.force_authenticate(ceo)
    for query in ("problem=bogus", "problem=idle&idle_days=0", "problem=idle&idle_days=251", "idle_days=x"):
        assert api.get(f"/api/v1/leads/?{query}").status_code == 400, query


@pytest.mark.parametrize(
    "who",
    ["rep", "teammate", "other_rep", "head", "other_head", "marketer", "marketing_head", "ceo", "admin"],
)
def test_page_and_api_answer_every_role(dataset, people, client, api, who):
    user = people[who]
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/reports/quality/?by=owner")
        api.force_authenticate(user)
        answer = api.get("/api/v1/reports/quality/?by=team")
        expected = report().compute(params_for(user, "by=team"))
    assert page.status_code == 200
    assert answer.status_code == 200
    assert answer.json()["total"] == expected["total"]


def test_page_shows_counts_links_and_says_it_is_now(dataset, client, ceo, rep):
    client.force_login(ceo)
    with time_machine.travel(NOW, tick=False):
        html = client.get("/reports/quality/?by=owner").content.decode()
        row = by_key(report().compute(params_for(ceo, "by=owner")))[rep.pk]
    assert row["links"]["no_product"].replace("&", "&amp;") in html
    assert row["links"]["vague_other"].replace("&", "&amp;") in html
    assert 'name="idle_days"' in html and "13 апреля 2026" in html  # the cutoff, in words


def test_exports_of_the_report(dataset, client, ceo):
    client.force_login(ceo)
    with time_machine.travel(NOW, tick=False):
        csv_answer = client.get("/api/v1/reports/quality/?by=owner&format=csv")
        xlsx_answer = client.get("/reports/quality/?by=team&format=xlsx")
    assert csv_answer.status_code == 200 and xlsx_answer.status_code == 200
    assert csv_answer["Content-Disposition"].startswith(
        'attachment; filename="quality-2026-04-01-2026-04-16.csv"'
    )
    lines = csv_answer.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 4 + 1  # the header; rep, teammate, other_rep, unassigned; the total
    assert lines[-1].split(",")[1:8] == ["9", "1", "1", "1", "2", "1", "6"]


def test_anonymous_is_sent_to_sign_in(db, client, api):
    assert client.get("/reports/quality/").status_code == 302
    assert api.get("/api/v1/reports/quality/").status_code in (401, 403)


def test_idle_days_through_page_and_api(dataset, client, api, ceo):
    client.force_login(ceo)
    api.force_authenticate(ceo)
    with time_machine.travel(NOW, tick=False):
        answer = api.get("/api/v1/reports/quality/?idle_days=10")
        assert answer.status_code == 200
        assert answer.json()["idle_days"] == 10 and answer.json()["total"]["idle"] == 1
        assert "idle_days=10" in answer.json()["total"]["links"]["idle"]
        page = client.get("/reports/quality/?idle_days=10")
        assert page.status_code == 200 and 'value="10"' in page.content.decode()
        for bad in ("0", "abc", "251"):
            assert api.get(f"/api/v1/reports/quality/?idle_days={bad}").status_code == 400
            bad_page = client.get(f"/reports/quality/?idle_days={bad}")
            assert bad_page.status_code == 400
