"""The report drill-down filters of the lead list refuse nonsense: a 400 naming
the parameter on the API, the field's error on the page."""

import pytest


@pytest.mark.parametrize(
    "query",
    [
        "arrival_hour=24",
        "arrival_hour=-1",
        "arrival_hour=%C2%B2",
        "arrival_weekday=0",
        "arrival_weekday=8",
        "rejected_from=nowhere",
        "rejection_reason=not_a_reason",
    ],
)
def test_bad_values_answer_400(api, client, ceo, query):
    api.force_authenticate(ceo)
    answer = api.get(f"/api/v1/leads/?{query}")
    assert answer.status_code == 400
    assert query.split("=")[0] in answer.json()
    # The page keeps the list and shows the filter form with the field's error.
    client.force_login(ceo)
    page = client.get(f"/leads/?{query}")
    assert page.status_code == 200
    assert query.split("=")[0] in page.context["filter"].errors


@pytest.mark.parametrize("query", ["arrival_hour=0", "arrival_weekday=7", "rejected_from=none"])
def test_good_values_answer_200(api, ceo, rep_lead, query):
    api.force_authenticate(ceo)
    assert api.get(f"/api/v1/leads/?{query}").status_code == 200
