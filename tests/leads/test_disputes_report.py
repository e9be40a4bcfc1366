"""The Rejections report counts disputed rejections and their outcomes per row and
per reason disputed, over the same cohort, every count drilling down to exactly
its leads (issue #15).

February 2026, team A (rep), sources ads and seo, all rejected from qualification:
A1 ads  not_target  disputed → overturned (open again now, reason cleared)
A2 ads  spam        disputed → upheld
A3 ads  not_target  disputed → open
S1 seo  not_target  disputed → upheld
S2 seo  no_need     not disputed
"""

import csv
import io

import pytest
import time_machine
from django.http import QueryDict
from django.utils import translation

from leads import disputes
from leads.choices import DisputeState
from reports.base import get_report
from reports.params import parse_params
from tests.factories import SourceFactory
from tests.leads.dispute_story import ARRIVAL, msk, rejected_lead

pytestmark = pytest.mark.django_db
PERIOD = "date_from=2026-02-01&date_to=2026-02-28"


@pytest.fixture
def february(rep, head, marketer):
    ads, seo = SourceFactory(code="ads", name="Ads"), SourceFactory(code="seo", name="SEO")
    with time_machine.travel(ARRIVAL, tick=False) as clock:
        leads = {
            "A1": rejected_lead(rep, source=ads),
            "A2": rejected_lead(rep, source=ads, reason="spam"),
            "A3": rejected_lead(rep, source=ads),
            "S1": rejected_lead(rep, source=seo),
            "S2": rejected_lead(rep, source=seo, reason="no_need"),
        }
        clock.move_to(msk(2026, 2, 11, 12, 0))
        opened = {
            name: disputes.open_dispute(leads[name], marketer, "наш") for name in ("A1", "A2", "A3", "S1")
        }
        clock.move_to(msk(2026, 2, 11, 15, 0))
        disputes.decide(opened["A1"], head, DisputeState.OVERTURNED)
        disputes.decide(opened["A2"], head, DisputeState.UPHELD)
        disputes.decide(opened["S1"], head, DisputeState.UPHELD)
    return {"ads": ads, "seo": seo, **leads}


def compute(user, query):
    report = get_report("rejections")
    return report.compute(parse_params(QueryDict(f"{PERIOD}&{query}"), user, report))


def dispute_figures(row):
    return (row["disputed"], row["disputes_open"], row["upheld"], row["overturned"])


def test_counts_per_source_and_reason(february, ceo):
    result = compute(ceo, "by=source")
    rows = {row["key"]: row for row in result["rows"]}
    ads, seo = rows[february["ads"].pk], rows[february["seo"].pk]
    assert dispute_figures(ads) == (3, 1, 1, 1)
    assert ads["rejected"] == 2  # A1 is open again: no longer rejected, still counted as disputed
    assert ads["dispute_outcomes"] == {
        "not_target": {"disputes_open": 1, "upheld": 0, "overturned": 1},
        "spam": {"disputes_open": 0, "upheld": 1, "overturned": 0},
    }
    assert dispute_figures(seo) == (1, 0, 1, 0)
    total = result["total"]
    assert dispute_figures(total) == (4, 1, 2, 1)
    for field in ("disputed", "disputes_open", "upheld", "overturned"):
        assert total[field] == sum(row[field] for row in result["rows"])
    assert total["dispute_outcomes"]["not_target"] == {"disputes_open": 1, "upheld": 1, "overturned": 1}


@pytest.mark.parametrize("by", ["source", "stage", "owner"])
def test_every_dispute_count_drills_down_to_exactly_its_leads(february, ceo, api, by):
    api.force_authenticate(ceo)
    result = compute(ceo, f"by={by}")
    checked = 0
    for row in [*result["rows"], result["total"]]:
        links = {
            field: (row["links"][field], row[field])
            for field in ("disputed", "disputes_open", "upheld", "overturned")
        }
        for code, counts in row["dispute_outcomes"].items():
            for field, n in counts.items():
                links[f"{code}/{field}"] = (row["links"]["dispute_outcomes"][code][field], n)
        for name, (link, count) in links.items():
            answer = api.get("/api/v1/leads/?" + link.split("?", 1)[1])
            assert answer.status_code == 200, answer.content
            assert answer.json()["count"] == count, (row.get("key"), name, link)
            checked += 1
    assert checked > 8


def test_by_stage_the_overturned_lead_counts_where_it_was_rejected_from(february, ceo):
    rows = {row["key"]: row for row in compute(ceo, "by=stage")["rows"]}
    assert dispute_figures(rows["qualification"]) == (4, 1, 2, 1)


def test_a_head_of_another_team_counts_none(february, other_head):
    assert dispute_figures(compute(other_head, "by=source")["total"]) == (0, 0, 0, 0)


def test_the_page_and_the_csv_show_them(february, client, marketer):
    client.force_login(marketer)
    with translation.override("en"):
        page = client.get(
            f"/reports/rejections/?{PERIOD}&by=source", HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
        assert "Disputed" in page and "Overturned" in page and "1 overturned" in page
        answer = client.get(f"/reports/rejections/?{PERIOD}&by=source&format=csv", HTTP_ACCEPT_LANGUAGE="en")
    lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    header = lines[0]
    assert {"Disputed", "Awaiting decision", "Upheld", "Overturned"} <= set(header)
    # A reason's outcomes are columns of their own: "<reason> — <outcome>".
    column = header.index("Disputes by reason: Not a target client — Overturned")
    assert lines[-1][0] == "Total"
    assert lines[-1][header.index("Disputed")] == "4"
    assert lines[-1][column] == "1"
