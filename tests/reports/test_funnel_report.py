"""The funnel report over a hand-made March–April 2026, every figure worked out
by hand (company zone Europe/Moscow).

lead  arrived      source camp owner     stage (furthest)        qual  events (qualified / stage entries)
L0    Feb 28       S2     —    other_rep meeting (meeting)       mql   mql Mar 2; meeting Mar 3
L1    Mar 3        S1     C1   rep       deal (deal)             sql   mql Mar 4, sql Mar 6; meeting Mar 8,
                                                                       proposal Mar 12, deal Mar 20
L2    Mar 5        S1     C1   rep       proposal (proposal)     sql   sql Mar 7; meeting Mar 15, proposal Apr 3
L3    Mar 10       S1     C1   other_rep lost (meeting)          sql   sql Mar 12; meeting Mar 18, lost Apr 2
                                                                       (rejected after a meeting)
L4    Mar 15       S2     —    rep       qualification           mql   mql Apr 1
L5    Mar 20       S2     —    other_rep nurture (qualification) none  nurture Mar 28
L6    Mar 25       S1     —    rep       lead                    none
L7    Mar 26       S1     C1   rep       lost: duplicate         mql   mql Mar 26; lost Mar 27 — counts nowhere
L8    Apr 2        S1     C1   rep       deal (deal)             none  meeting Apr 10, proposal Apr 15, deal Apr 25
L9    Apr 5        S2     —    other_rep meeting (meeting)       mql   mql Apr 6; meeting Apr 20
L10   Apr 8        S1     C1   rep       lost: not_target        none  lost Apr 9
L11   Apr 12       S2     —    rep       lead                    none
L12   May 1 00:30  S2     —    rep       lead                    none  (Apr 30 21:30 UTC: May in Moscow)

Deals (won): L1 100 000 / margin 30 000 closed Mar 20; L1 repeat sale 50 000 / 20 000
closed Apr 10; L8 80 000 / 24 000 closed Apr 25.
Spend: C1 Feb 28 000, Mar 31 000, Apr 30 000; S1 (source level) Mar 6 200; S2 Apr 9 000.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation
from django.utils.translation import gettext
from rest_framework.test import APIClient

from leads.models import Deal, Lead, LeadEvent, RejectionReason, Spend, Stage, StageChange
from tests.factories import CampaignFactory, LeadFactory, ProductFactory, SegmentFactory, SourceFactory

MSK = ZoneInfo("Europe/Moscow")
PERIOD = {"date_from": "2026-03-01", "date_to": "2026-04-30"}


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def at(month, day, hour=12, minute=0):
    return dt.datetime(2026, month, day, hour, minute, tzinfo=MSK)


def st(code):
    return Stage.objects.get(code=code)


@pytest.fixture
def data(rep, other_rep, head, teammate):
    s1 = SourceFactory(name="S1 ads")
    s2 = SourceFactory(name="S2 seo")
    c1 = CampaignFactory(source=s1, name="C1 spring")
    reason = {
        code: RejectionReason.objects.get(code=code) for code in ("duplicate", "not_target", "no_budget")
    }

    def lead(
        name, created, source, owner, stage, furthest=None, qual="none", campaign=None, reason_code=None
    ):
        obj = LeadFactory(
            created_at=created,
            source=source,
            campaign=campaign,
            owner=owner,
            stage=st(stage),
            furthest_stage=st(furthest or stage),
            qualification=qual,
            rejection_reason=reason[reason_code] if reason_code else None,
        )
        obj.name = name
        return obj

    def moves(obj, *entries):
        for code, when in entries:
            StageChange.objects.create(lead=obj, to_stage=st(code), changed_at=when)

    def qualified(obj, *entries):
        previous = "none"
        for level, when in entries:
            LeadEvent.objects.create(
                lead=obj, kind=LeadEvent.Kind.QUALIFIED, created_at=when, data={"from": previous, "to": level}
            )
            previous = level

    L = {}
    L[0] = lead("L0", at(2, 28, 23), s2, other_rep, "meeting", qual="mql")
    qualified(L[0], ("mql", at(3, 2)))
    moves(L[0], ("meeting", at(3, 3)))
    L[1] = lead("L1", at(3, 3), s1, rep, "deal", qual="sql", campaign=c1)
    qualified(L[1], ("mql", at(3, 4)), ("sql", at(3, 6)))
    moves(
        L[1], ("qualification", at(3, 4)), ("meeting", at(3, 8)), ("proposal", at(3, 12)), ("deal", at(3, 20))
    )
    L[2] = lead("L2", at(3, 5), s1, rep, "proposal", qual="sql", campaign=c1)
    qualified(L[2], ("sql", at(3, 7)))
    moves(L[2], ("meeting", at(3, 15)), ("proposal", at(4, 3)))
    L[3] = lead("L3", at(3, 10), s1, other_rep, "lost", "meeting", "sql", c1, "no_budget")
    qualified(L[3], ("sql", at(3, 12)))
    moves(L[3], ("meeting", at(3, 18)), ("lost", at(4, 2)))
    L[4] = lead("L4", at(3, 15), s2, rep, "qualification", qual="mql")
    qualified(L[4], ("mql", at(4, 1)))
    L[5] = lead("L5", at(3, 20), s2, other_rep, "nurture", "qualification")
    moves(L[5], ("nurture", at(3, 28)))
    L[6] = lead("L6", at(3, 25), s1, rep, "lead")
    L[7] = lead("L7", at(3, 26), s1, rep, "lost", "lead", "mql", c1, "duplicate")
    qualified(L[7], ("mql", at(3, 26, 13)))
    moves(L[7], ("lost", at(3, 27)))
    L[8] = lead("L8", at(4, 2), s1, rep, "deal", campaign=c1)
    moves(L[8], ("meeting", at(4, 10)), ("proposal", at(4, 15)), ("deal", at(4, 25)))
    L[9] = lead("L9", at(4, 5), s2, other_rep, "meeting", qual="mql")
    qualified(L[9], ("mql", at(4, 6)))
    moves(L[9], ("meeting", at(4, 20)))
    L[10] = lead("L10", at(4, 8), s1, rep, "lost", "lead", campaign=c1, reason_code="not_target")
    moves(L[10], ("lost", at(4, 9)))
    L[11] = lead("L11", at(4, 12), s2, rep, "lead")
    L[12] = lead("L12", at(5, 1, 0, 30), s2, rep, "lead")

    def deal(obj, amount, margin, closed, repeat=False):
        Deal.objects.create(
            lead=obj,
            contact=obj.contact,
            amount=amount,
            margin=margin,
            status="won",
            closed_on=closed,
            is_repeat_sale=repeat,
        )

    deal(L[1], 100000, 30000, dt.date(2026, 3, 20))
    deal(L[1], 50000, 20000, dt.date(2026, 4, 10), repeat=True)
    deal(L[8], 80000, 24000, dt.date(2026, 4, 25))
    # An open deal never counts.
    Deal.objects.create(lead=L[2], contact=L[2].contact, amount=70000, margin=10000, status="open")

    product = ProductFactory(code="crm", name="CRM")
    segment = SegmentFactory()
    Lead.objects.filter(pk__in=[L[1].pk, L[2].pk, L[9].pk]).update(product=product)
    Lead.objects.filter(pk__in=[L[1].pk, L[5].pk]).update(segment=segment)

    Spend.objects.create(source=s1, campaign=c1, month=dt.date(2026, 2, 1), amount=28000)
    Spend.objects.create(source=s1, campaign=c1, month=dt.date(2026, 3, 1), amount=31000)
    Spend.objects.create(source=s1, campaign=c1, month=dt.date(2026, 4, 1), amount=30000)
    Spend.objects.create(source=s1, month=dt.date(2026, 3, 1), amount=6200)
    Spend.objects.create(source=s2, month=dt.date(2026, 4, 1), amount=9000)
    return {"s1": s1, "s2": s2, "c1": c1, "leads": L, "product": product, "segment": segment}


def get(client, user, **params):
    client.force_login(user)
    response = client.get("/api/v1/reports/funnel/", params)
    assert response.status_code == 200, response.content
    return response.json()


def by_key(result):
    return {row["key"]: row for row in result["rows"]}


def counts(row):
    return [row[f] for f in ("leads", "mql", "sql", "meeting", "proposal", "won", "rejected", "nurture")]


@pytest.fixture
def api():
    return APIClient()


def test_cohort_by_source(api, data, marketer):
    result = get(api, marketer, **PERIOD, by="source")
    assert (result["by"], result["mode"], result["date_from"], result["date_to"]) == (
        "source",
        "cohort",
        "2026-03-01",
        "2026-04-30",
    )
    rows = by_key(result)
    s1, s2 = rows[data["s1"].pk], rows[data["s2"].pk]
    assert s1["label"] == "S1 ads"
    assert counts(s1) == [6, 4, 4, 4, 3, 2, 2, 0]
    assert counts(s2) == [4, 2, 1, 1, 0, 0, 0, 1]
    assert (s1["revenue"], s1["margin"], s1["repeat_revenue"], s1["repeat_margin"]) == (
        "180000.00",
        "54000.00",
        "50000.00",
        "20000.00",
    )
    assert (s2["revenue"], s2["margin"]) == ("0.00", "0.00")
    assert (s1["spend"], s1["cpl"], s1["cost_per_sql"], s1["cpa"], s1["romi"]) == (
        "67200.00",
        "11200.00",
        "16800.00",
        "33600.00",
        "-19.6",
    )
    assert (s2["spend"], s2["cpl"], s2["cost_per_sql"], s2["cpa"], s2["romi"]) == (
        "9000.00",
        "2250.00",
        "9000.00",
        None,
        "-100.0",
    )
    total = result["total"]
    assert counts(total) == [10, 6, 5, 5, 3, 2, 2, 1]
    assert (total["revenue"], total["margin"], total["spend"]) == ("180000.00", "54000.00", "76200.00")
    assert (total["cpl"], total["cost_per_sql"], total["cpa"], total["romi"]) == (
        "7620.00",
        "15240.00",
        "38100.00",
        "-29.1",
    )
    assert s1["conversion"]["mql"] == "66.7" and s1["conversion"]["overall"] == "33.3"


def test_cohort_by_campaign_pro_rates_spend(api, data, marketer):
    # Mar 16 – Apr 15: 16/31 of March, 15/30 of April.
    result = get(api, marketer, date_from="2026-03-16", date_to="2026-04-15", by="campaign")
    rows = by_key(result)
    c1, none = rows[data["c1"].pk], rows[None]
    assert counts(c1) == [2, 1, 1, 1, 1, 1, 1, 0]
    assert (c1["spend"], c1["cpl"], c1["cost_per_sql"], c1["cpa"], c1["romi"]) == (
        "31000.00",
        "15500.00",
        "31000.00",
        "31000.00",
        "-22.6",
    )
    assert (c1["revenue"], c1["margin"]) == ("80000.00", "24000.00")
    assert none["label"] == gettext("No campaign")
    assert counts(none) == [4, 1, 1, 1, 0, 0, 0, 1]
    assert (none["spend"], none["cpl"]) == ("7700.00", "1925.00")
    assert result["total"]["spend"] == "38700.00"


def test_cohort_by_month(api, data, ceo):
    rows = by_key(get(api, ceo, **PERIOD, by="month"))
    assert list(rows) == ["2026-03", "2026-04"]
    march, april = rows["2026-03"], rows["2026-04"]
    assert counts(march) == [6, 4, 3, 3, 2, 1, 1, 1]
    assert counts(april) == [4, 2, 2, 2, 1, 1, 1, 0]
    assert (march["revenue"], march["repeat_revenue"], april["revenue"]) == (
        "100000.00",
        "50000.00",
        "80000.00",
    )
    assert (march["spend"], april["spend"]) == ("37200.00", "39000.00")


def test_cohort_by_owner_hides_spend(api, data, marketer, rep, other_rep):
    result = get(api, marketer, **PERIOD, by="owner")
    rows = by_key(result)
    assert counts(rows[rep.pk]) == [7, 4, 3, 3, 3, 2, 1, 0]
    assert counts(rows[other_rep.pk]) == [3, 2, 2, 2, 0, 0, 1, 1]
    assert rows[rep.pk]["revenue"] == "180000.00"
    assert all(row["spend"] is None and row["cpl"] is None for row in result["rows"])
    assert result["total"]["spend"] is None


def test_cohort_by_product_segment_team(api, data, marketer, team_a, team_b):
    rows = by_key(get(api, marketer, **PERIOD, by="product"))
    assert rows[data["product"].pk]["label"] == "CRM"
    # L1, L2, L9: all three reached SQL (L9 by its meeting); L1 won.
    assert counts(rows[data["product"].pk]) == [3, 3, 3, 3, 2, 1, 0, 0]
    assert counts(rows[None]) == [7, 3, 2, 2, 1, 1, 2, 1]
    assert rows[None]["label"] == gettext("No product")
    assert rows[data["product"].pk]["spend"] is None
    rows = by_key(get(api, marketer, **PERIOD, by="segment"))
    assert counts(rows[data["segment"].pk]) == [2, 1, 1, 1, 1, 1, 0, 1]
    rows = by_key(get(api, marketer, **PERIOD, by="team"))
    assert counts(rows[team_a.pk]) == [7, 4, 3, 3, 3, 2, 1, 0]
    assert counts(rows[team_b.pk]) == [3, 2, 2, 2, 0, 0, 1, 1]
    assert rows[team_a.pk]["label"] == "Team A"


def test_events_by_source(api, data, marketer):
    rows = by_key(get(api, marketer, **PERIOD, by="source", mode="events"))
    s1, s2 = rows[data["s1"].pk], rows[data["s2"].pk]
    assert counts(s1) == [6, 3, 3, 4, 3, 2, 2, 0]
    assert counts(s2) == [4, 3, 0, 2, 0, 0, 0, 1]
    assert (s1["revenue"], s1["repeat_revenue"]) == ("180000.00", "50000.00")


def test_events_by_month(api, data, marketer):
    rows = by_key(get(api, marketer, **PERIOD, by="month", mode="events"))
    march, april = rows["2026-03"], rows["2026-04"]
    assert counts(march) == [6, 4, 3, 4, 1, 1, 0, 1]
    assert counts(april) == [4, 2, 0, 2, 2, 1, 2, 0]
    assert (march["revenue"], march["repeat_revenue"]) == ("100000.00", "0.00")
    assert (april["revenue"], april["repeat_revenue"]) == ("80000.00", "50000.00")


def test_week_keys_are_mondays(api, data, marketer):
    rows = get(api, marketer, date_from="2026-04-01", date_to="2026-04-12", by="week")["rows"]
    # Apr 2 (Thu) → week of Mar 30; Apr 5 (Sun) too; Apr 8 → Apr 6; Apr 12 (Sun) → Apr 6.
    assert {row["key"]: row["leads"] for row in rows if row["leads"]} == {"2026-03-30": 2, "2026-04-06": 2}
    # Spend: Apr 1–5 = 5/30 and Apr 6–12 = 7/30 of 39 000.
    spend = {row["key"]: row["spend"] for row in rows}
    assert spend == {"2026-03-30": "6500.00", "2026-04-06": "9100.00"}


@pytest.mark.parametrize(
    ("by", "mode"),
    [
        ("source", "cohort"),
        ("campaign", "cohort"),
        ("month", "cohort"),
        ("owner", "cohort"),
        ("source", "events"),
        ("month", "events"),
        ("week", "events"),
        ("campaign", "events"),
        ("product", "cohort"),
        ("product", "events"),
        ("segment", "cohort"),
        ("team", "cohort"),
        ("team", "events"),
        ("owner", "events"),
    ],
)
def test_every_count_drills_down_to_as_many_leads(api, data, marketer, by, mode):
    result = get(api, marketer, **PERIOD, by=by, mode=mode)
    checked = 0
    for row in [*result["rows"], result["total"]]:
        for step, url in row["links"].items():
            assert url.startswith("/leads/?")
            response = api.get("/api/v1/leads/?" + url.split("?", 1)[1])
            assert response.status_code == 200, response.content
            assert response.json()["count"] == row[step], (row.get("key"), step, url)
            checked += 1
    assert checked > 16
    # And the lead list page shows the same number.
    for step, url in result["total"]["links"].items():
        html = api.get(url).content.decode()
        assert f'<span class="count">{result["total"][step]}</span>' in html, (step, url)


def test_rep_sees_own_leads_and_no_money(api, data, rep):
    result = get(api, rep, **PERIOD, by="source")
    rows = by_key(result)
    assert counts(rows[data["s1"].pk]) == [5, 3, 3, 3, 3, 2, 1, 0]
    assert counts(rows[data["s2"].pk]) == [2, 1, 0, 0, 0, 0, 0, 0]
    for row in [*result["rows"], result["total"]]:
        assert row["revenue"] is row["margin"] is row["repeat_revenue"] is row["spend"] is row["cpl"] is None


def test_head_sees_team_with_money_without_spend(api, data, head):
    result = get(api, head, **PERIOD, by="source")
    assert result["total"]["leads"] == 7
    assert result["total"]["revenue"] == "180000.00"
    assert result["total"]["spend"] is None


def test_slice_filter_hides_spend(api, data, marketer, team_a):
    result = get(api, marketer, **PERIOD, by="source", team=team_a.pk)
    assert result["total"]["leads"] == 7
    assert result["total"]["spend"] is None
    result = get(api, marketer, **PERIOD, by="source", source=data["s1"].pk)
    assert result["total"]["spend"] == "67200.00"


@pytest.mark.parametrize(
    "who", ["rep", "teammate", "other_rep", "head", "other_head", "marketer", "ceo", "admin"]
)
def test_every_role_opens_page_and_api(client, api, data, people, who):
    user = people[who]
    client.force_login(user)
    page = client.get("/reports/funnel/", PERIOD)
    assert page.status_code == 200
    api.force_authenticate(user)
    assert api.get("/api/v1/reports/funnel/", PERIOD).status_code == 200
    index = client.get("/reports/")
    assert index.status_code == 200
    assert 'href="/reports/"' in index.content.decode()  # "Reports" in the navigation


def test_a_merged_duplicate_counts_nowhere(api, marketer, head, rep):
    from leads.merge import merge

    keep = LeadFactory(created_at=at(3, 3), owner=rep)
    duplicate = LeadFactory(created_at=at(3, 4), owner=rep, source=keep.source, qualification="mql")
    merge(keep, duplicate, head)
    for mode in ("cohort", "events"):
        total = get(api, marketer, **PERIOD, mode=mode)["total"]
        assert (total["leads"], total["mql"], total["rejected"]) == (1, 0, 0), mode


def test_page_shows_drill_down_links(client, data, marketer):
    client.force_login(marketer)
    html = client.get("/reports/funnel/", PERIOD).content.decode()
    assert "/leads/?mode=cohort&amp;period_from=2026-03-01&amp;period_to=2026-04-30" in html
    assert "<script>" not in html and "onclick" not in html


def test_anonymous(client, api, db):
    assert client.get("/reports/funnel/").status_code == 302
    assert api.get("/api/v1/reports/funnel/").status_code in (401, 403)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2026-13-01"}, "date_from"),
        ({"date_from": "2026-04-10", "date_to": "2026-04-01"}, "date_to"),
        ({"by": "stage"}, "by"),
        ({"mode": "live"}, "mode"),
        ({"source": "abc"}, "source"),
        ({"source": "999999"}, "source"),
        ({"format": "pdf"}, "format"),
        ({"date_to": "0001-01-01"}, "date_to"),
    ],
)
def test_bad_params_are_400(client, api, marketer, params, field):
    api.force_authenticate(marketer)
    response = api.get("/api/v1/reports/funnel/", params)
    assert response.status_code == 400
    assert field in response.json()
    client.force_login(marketer)
    assert client.get("/reports/funnel/", params).status_code == 400


def test_unknown_report_is_404(api, marketer):
    api.force_authenticate(marketer)
    assert api.get("/api/v1/reports/nope/").status_code == 404


def test_default_period_is_this_month(api, marketer, time_machine):
    time_machine.move_to(dt.datetime(2026, 4, 15, 10, tzinfo=MSK))
    result = get(api, marketer)
    assert (result["date_from"], result["date_to"], result["by"]) == ("2026-04-01", "2026-04-15", "source")


def _grow(extra, rep, other_rep):
    sources = [SourceFactory() for _ in range(3)]
    for i in range(extra):
        lead = LeadFactory(
            created_at=at(3, 1 + i % 28),
            source=sources[i % 3],
            owner=rep if i % 2 else other_rep,
            stage=st("deal"),
        )
        Deal.objects.create(
            lead=lead, contact=lead.contact, amount=10, margin=1, status="won", closed_on=dt.date(2026, 3, 28)
        )
        StageChange.objects.create(lead=lead, to_stage=st("meeting"), changed_at=at(3, 28))


@pytest.mark.parametrize("mode", ["cohort", "events"])
@pytest.mark.parametrize("by", ["source", "month"])
def test_constant_queries(api, data, marketer, rep, other_rep, django_assert_max_num_queries, mode, by):
    api.force_authenticate(marketer)
    # Events by month: one query per step (11 with the returns from nurture).
    with django_assert_max_num_queries(35) as small:
        api.get("/api/v1/reports/funnel/", {**PERIOD, "by": by, "mode": mode})
    _grow(30, rep, other_rep)
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        response = api.get("/api/v1/reports/funnel/", {**PERIOD, "by": by, "mode": mode})
    assert response.json()["total"]["leads"] == 40
    assert len(large.captured_queries) == len(small.captured_queries)


@pytest.mark.parametrize("mode", ["cohort", "events"])
def test_the_returns_columns_are_there_and_zero_without_returns(api, data, marketer, mode):
    """L5 is in nurture and never came back: `nurture` counts it, the returns
    columns (tests/reports/test_funnel_returns.py tells their story) stay 0."""
    result = get(api, marketer, **PERIOD, by="source", mode=mode)
    for row in [*result["rows"], result["total"]]:
        assert (row["returned"], row["returned_sql"], row["returned_won"]) == (0, 0, 0)
        assert {"returned", "returned_sql", "returned_won"} <= set(row["links"])
    assert result["total"]["nurture"] == 1
