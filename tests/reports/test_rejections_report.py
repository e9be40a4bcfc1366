"""The Rejections report over a hand-made April 2026, every figure worked out by hand.

lead  source campaign segment owner     team reason      rejected from
R1    ads    c1       seg1    rep       A    not_target  lead
R2    ads    c1       —       rep       A    spam        lead
R3    ads    —        seg1    other_rep B    not_target  qualification
R4    seo    —        —       rep       A    no_need     meeting (rejected as spam from "lead"
                                                         first, reopened, rejected again)
R5    seo    —        —       —         A    spam        lead
O1    ads    —        —       rep       A    (open)
O2    seo    —        —       other_rep B    (open)
O3    ads    —        —       rep       A    (nurture)
D1    ads    c1       —       rep       A    duplicate   lead         — counts nowhere
X1    ads    c1       —       rep       A    not_target  lead, arrived in March — not in the period
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from rest_framework.exceptions import ValidationError

from leads.models import Lead, RejectionReason, Stage, StageChange
from leads.report_keys import rejected_from, with_rejection_reason
from reports.base import get_report
from reports.params import parse_params
from tests.factories import CampaignFactory, LeadFactory, SegmentFactory, SourceFactory

MSK = ZoneInfo("Europe/Moscow")
PERIOD = "date_from=2026-04-01&date_to=2026-04-30"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def at(day, hour=12, month=4):
    return dt.datetime(2026, month, day, hour, tzinfo=MSK)


def _lead(source, owner, team, day, *, campaign=None, segment=None, month=4, stage="lead"):
    return LeadFactory(
        source=source,
        campaign=campaign,
        segment=segment,
        owner=owner,
        team=team,
        created_at=at(day, month=month),
        stage=Stage.objects.get(code=stage),
    )


def _move(lead, to, day, month=4):
    previous = lead.stage
    lead.stage = Stage.objects.get(code=to)
    lead.save()
    StageChange.objects.create(
        lead=lead, from_stage=previous, to_stage=lead.stage, changed_at=at(day, 15, month)
    )


def _reject(lead, reason, day, month=4):
    lead.rejection_reason = RejectionReason.objects.get(code=reason)
    _move(lead, "lost", day, month)


@pytest.fixture
def april(rep, other_rep, head, other_head, team_a, team_b):
    ads = SourceFactory(code="ads", name="Ads")
    seo = SourceFactory(code="seo", name="SEO")
    c1 = CampaignFactory(source=ads, code="c1", name="Spring")
    seg1 = SegmentFactory(code="seg1", name_en="Retail", name_ru="Розница")

    r1 = _lead(ads, rep, team_a, 2, campaign=c1, segment=seg1)
    _reject(r1, "not_target", 3)
    r2 = _lead(ads, rep, team_a, 5, campaign=c1)
    _reject(r2, "spam", 5)
    r3 = _lead(ads, other_rep, team_b, 8, segment=seg1)
    _move(r3, "qualification", 8)
    _reject(r3, "not_target", 9)
    r4 = _lead(seo, rep, team_a, 10)
    _reject(r4, "spam", 10)
    r4.rejection_reason = None
    _move(r4, "qualification", 11)  # reopened
    _move(r4, "meeting", 14)
    _reject(r4, "no_need", 20)  # a lead rejected after a meeting
    r5 = _lead(seo, None, team_a, 12)
    _reject(r5, "spam", 12)
    _lead(ads, rep, team_a, 15)
    _lead(seo, other_rep, team_b, 16)
    _lead(ads, rep, team_a, 17, stage="nurture")
    d1 = _lead(ads, rep, team_a, 18, campaign=c1)
    _reject(d1, "duplicate", 18)
    x1 = _lead(ads, rep, team_a, 30, campaign=c1, month=3)
    _reject(x1, "not_target", 2)
    return {"ads": ads, "seo": seo, "c1": c1, "seg1": seg1}


def compute(user, query=""):
    report = get_report("rejections")
    return report.compute(parse_params(QueryDict(f"{PERIOD}&{query}"), user, report))


def by_key(result):
    return {row["key"]: row for row in result["rows"]}


def figures(row):
    return (row["leads"], row["rejected"], row["reasons"], row["not_target_pct"], row["spam_pct"])


def test_by_source_with_the_bad_lead_shares(april, marketer):
    result = compute(marketer, "by=source")
    ads, seo = april["ads"].pk, april["seo"].pk
    assert [row["key"] for row in result["rows"]] == [ads, seo]
    rows = by_key(result)
    assert rows[ads]["label"] == "Ads"
    assert figures(rows[ads]) == (5, 3, {"not_target": 2, "spam": 1}, "40.0", "20.0")
    assert figures(rows[seo]) == (3, 2, {"no_need": 1, "spam": 1}, "0.0", "33.3")
    assert figures(result["total"]) == (8, 5, {"no_need": 1, "not_target": 2, "spam": 2}, "25.0", "25.0")
    assert result["by"] == "source" and result["mode"] == "cohort"
    assert (result["date_from"], result["date_to"]) == ("2026-04-01", "2026-04-30")


def test_by_campaign_and_segment_with_a_none_row(april, ceo):
    rows = by_key(compute(ceo, "by=campaign"))
    assert list(rows) == [april["c1"].pk, None]
    assert figures(rows[april["c1"].pk]) == (2, 2, {"not_target": 1, "spam": 1}, "50.0", "50.0")
    assert figures(rows[None]) == (6, 3, {"no_need": 1, "not_target": 1, "spam": 1}, "16.7", "16.7")
    assert rows[None]["label"] == "No campaign"

    rows = by_key(compute(ceo, "by=segment"))
    assert list(rows) == [april["seg1"].pk, None]
    assert rows[april["seg1"].pk]["label"] == "Retail"
    assert figures(rows[april["seg1"].pk]) == (2, 2, {"not_target": 2}, "100.0", "0.0")
    assert figures(rows[None]) == (6, 3, {"no_need": 1, "spam": 2}, "0.0", "33.3")


def test_by_owner(april, ceo, rep, other_rep):
    rows = by_key(compute(ceo, "by=owner"))
    assert set(rows) == {rep.pk, other_rep.pk, None}
    assert figures(rows[rep.pk]) == (5, 3, {"no_need": 1, "not_target": 1, "spam": 1}, "20.0", "20.0")
    assert figures(rows[other_rep.pk]) == (2, 1, {"not_target": 1}, "50.0", "0.0")
    assert figures(rows[None]) == (1, 1, {"spam": 1}, "0.0", "100.0")
    assert rows[None]["label"] == "unassigned"


def test_by_the_stage_left_for_lost(april, ceo):
    result = compute(ceo, "by=stage")
    # In funnel order; R4 counts from the meeting it was rejected after, not its first rejection.
    assert [row["key"] for row in result["rows"]] == ["lead", "qualification", "meeting"]
    rows = by_key(result)
    assert rows["meeting"]["label"] == Stage.objects.get(code="meeting").name_en
    assert (rows["lead"]["rejected"], rows["lead"]["reasons"]) == (3, {"not_target": 1, "spam": 2})
    assert (rows["qualification"]["rejected"], rows["qualification"]["reasons"]) == (1, {"not_target": 1})
    assert (rows["meeting"]["rejected"], rows["meeting"]["reasons"]) == (1, {"no_need": 1})
    assert result["total"]["rejected"] == 5
    assert result["total"]["reasons"] == {"no_need": 1, "not_target": 2, "spam": 2}


@pytest.mark.parametrize(
    ("who", "leads", "rejected"),
    [
        ("rep", 5, 3),
        ("other_rep", 2, 1),
        ("head", 6, 4),
        ("other_head", 2, 1),
        ("marketer", 8, 5),
        ("marketing_head", 8, 5),
        ("ceo", 8, 5),
        ("admin", 8, 5),
    ],
)
def test_each_role_sees_its_slice(april, people, who, leads, rejected):
    total = compute(people[who], "by=source")["total"]
    assert (total["leads"], total["rejected"]) == (leads, rejected)


def test_filters_narrow_the_cohort(april, ceo):
    total = compute(ceo, f"by=owner&source={april['seo'].pk}")["total"]
    assert figures(total) == (3, 2, {"no_need": 1, "spam": 1}, "0.0", "33.3")


@pytest.mark.parametrize("by", ["source", "campaign", "segment", "owner"])
@pytest.mark.parametrize("who", ["ceo", "head", "rep"])
def test_counts_drill_down_to_exactly_those_leads(april, people, api, by, who):
    user = people[who]
    result = compute(user, f"by={by}")
    api.force_authenticate(user)
    for row in [*result["rows"], result["total"]]:
        for field in ("leads", "rejected"):
            link = row["links"][field]
            assert link.startswith("/leads/?")
            answer = api.get("/api/v1/leads/?" + link.split("?", 1)[1])
            assert answer.status_code == 200, answer.content
            assert answer.json()["count"] == row[field], (row.get("key"), field, link)


@pytest.mark.parametrize("by", ["source", "stage"])
def test_reason_and_stage_links_select_exactly_the_counted_leads(april, ceo, by):
    """The links name rejection_reason / rejected_from; leads.report_keys defines both
    the grouping and the filter (for the lead list's FilterSet), and they agree."""
    report = get_report("rejections")
    params = parse_params(QueryDict(f"{PERIOD}&by={by}"), ceo, report)
    for row in report.compute(params)["rows"]:
        rejected = Lead.objects.visible_to(ceo).step("rejected", "cohort", params.start, params.end)
        if by == "stage":
            assert f"rejected_from={row['key']}" in row["links"]["rejected"]
            rejected = rejected_from(rejected, row["key"])
        else:
            rejected = rejected.filter(source_id=row["key"])
        assert rejected.count() == row["rejected"]
        for code, count in row["reasons"].items():
            assert f"rejection_reason={code}" in row["links"]["reasons"][code]
            assert with_rejection_reason(rejected, code).count() == count


@pytest.mark.parametrize("by", ["source", "stage", "owner"])
def test_reason_and_stage_links_give_those_counts_on_the_lead_api(april, ceo, api, by):
    api.force_authenticate(ceo)
    result = compute(ceo, f"by={by}")
    for row in [*result["rows"], result["total"]]:
        links = {"rejected": (row["links"]["rejected"], row["rejected"])}
        links.update({code: (row["links"]["reasons"][code], n) for code, n in row["reasons"].items()})
        for field, (link, count) in links.items():
            answer = api.get("/api/v1/leads/?" + link.split("?", 1)[1])
            assert answer.status_code == 200, answer.content
            assert answer.json()["count"] == count, (row.get("key"), field, link)


def test_by_stage_the_leads_links_list_the_rejected_leads(april, ceo, rep, team_a, api):
    """By stage, a row and the total count only lost leads: their `leads` links list
    those, not every arrival, nor a lead rejected from that stage and reopened since."""
    reopened = _lead(april["ads"], rep, team_a, 21)
    _reject(reopened, "not_target", 21)
    reopened.rejection_reason = None
    _move(reopened, "qualification", 22)
    api.force_authenticate(ceo)
    result = compute(ceo, "by=stage")
    assert result["total"]["leads"] == 5
    for row in [*result["rows"], result["total"]]:
        answer = api.get("/api/v1/leads/?" + row["links"]["leads"].split("?", 1)[1])
        assert answer.status_code == 200, answer.content
        assert answer.json()["count"] == row["leads"], (row.get("key"), row["links"]["leads"])


@pytest.mark.parametrize(
    "query", ["by=hour", "by=reason", "mode=events", "date_from=yesterday", "campaign=0", "segment=999999"]
)
def test_bad_parameters_are_refused(april, ceo, query):
    report = get_report("rejections")
    with pytest.raises(ValidationError):
        parse_params(QueryDict(f"{PERIOD}&{query}"), ceo, report)


@pytest.mark.parametrize("by", ["source", "campaign", "segment", "owner", "stage"])
def test_query_count_does_not_grow_with_the_data(april, ceo, rep, team_a, by):
    compute(ceo, f"by={by}")  # warm the reference caches
    with CaptureQueriesContext(connection) as small:
        compute(ceo, f"by={by}")
    for day in range(1, 13):
        lead = _lead(april["seo"], rep, team_a, day, segment=SegmentFactory())
        _move(lead, "qualification", day)
        _reject(lead, "not_target", day)
    with CaptureQueriesContext(connection) as large:
        result = compute(ceo, f"by={by}")
    assert result["total"]["rejected"] == 5 + 12
    # By stage the rows are lost leads only: the disputed ones (reopened too) take a query of their own.
    assert len(large) == len(small) <= (7 if by == "stage" else 6)


def test_empty_period(db, ceo):
    result = compute(ceo, "by=source")
    assert result["rows"] == []
    assert figures(result["total"]) == (0, 0, {}, None, None)


ROLES = ["rep", "teammate", "other_rep", "head", "other_head", "marketer", "marketing_head", "ceo", "admin"]


@pytest.mark.parametrize("who", ROLES)
def test_page_and_api_answer_every_role(april, people, client, api, who):
    client.force_login(people[who])
    assert client.get(f"/reports/rejections/?{PERIOD}&by=source").status_code == 200
    api.force_authenticate(people[who])
    answer = api.get(f"/api/v1/reports/rejections/?{PERIOD}&by=stage")
    assert answer.status_code == 200
    assert answer.json()["total"]["rejected"] == compute(people[who], "by=stage")["total"]["rejected"]


def test_page_shows_shares_reasons_and_links(april, client, marketer):
    client.force_login(marketer)
    html = client.get(f"/reports/rejections/?{PERIOD}&by=source").content.decode()
    row = by_key(compute(marketer, "by=source"))[april["ads"].pk]
    assert row["links"]["rejected"].replace("&", "&amp;") in html
    assert row["links"]["reasons"]["not_target"].replace("&", "&amp;") in html
    assert "40.0" in html and "33.3" in html
    assert RejectionReason.objects.get(code="not_target").name_ru in html  # the page speaks Russian


def test_anonymous_is_sent_to_sign_in(db, client, api):
    assert client.get("/reports/rejections/").status_code == 302
    assert api.get("/api/v1/reports/rejections/").status_code in (401, 403)


@pytest.mark.parametrize("query", ["by=hour", "mode=events", "date_to=2026-04-31", "owner=-1"])
def test_bad_parameters_answer_400(april, client, api, ceo, query):
    client.force_login(ceo)
    assert client.get(f"/reports/rejections/?{query}").status_code == 400
    api.force_authenticate(ceo)
    assert api.get(f"/api/v1/reports/rejections/?{query}").status_code == 400


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports(april, client, ceo, fmt):
    client.force_login(ceo)
    answer = client.get(f"/reports/rejections/?{PERIOD}&by=source&format={fmt}")
    assert answer.status_code == 200
    if fmt == "csv":
        text = answer.content.decode("utf-8-sig")
        assert "Ads" in text and "40.0" in text
