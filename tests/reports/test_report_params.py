"""The shared report parameters and rounding (reports/params.py, reports/base.py)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from reports.base import get_report, money, percent, ratio
from reports.params import parse_params
from tests.factories import ProductFactory


def test_rounding_is_half_up_once():
    assert money(Decimal("2.005")) == "2.01"
    assert money(Decimal("-2.005")) == "-2.01"
    assert money(None) is None
    assert money(0) == "0.00"
    assert ratio(1, 8) == "0.13"  # 0.125 → 0.13, not banker's 0.12
    assert ratio(5, 0) is None and ratio(5, None) is None
    assert percent(1, 3) == "33.3" and percent(2, 3) == "66.7"
    assert percent(1, 8, places=1) == "12.5"


def test_period_bounds_and_previous(marketer, settings):
    report = get_report("funnel")
    params = parse_params(QueryDict("date_from=2026-03-01&date_to=2026-03-31"), marketer, report)
    assert params.start.isoformat() == "2026-03-01T00:00:00+03:00"
    assert params.end.isoformat() == "2026-04-01T00:00:00+03:00"
    previous = params.previous()
    assert (previous.date_from, previous.date_to) == (dt.date(2026, 1, 29), dt.date(2026, 2, 28))
    assert params.sees_money and params.sees_spend


def test_drilldown_uses_product_code_and_drops_none(marketer):
    product = ProductFactory(code="crm")
    report = get_report("funnel")
    params = parse_params(
        QueryDict(f"date_from=2026-03-01&date_to=2026-03-31&mode=events&product={product.pk}"),
        marketer,
        report,
    )
    assert not params.sees_spend
    url = params.drilldown(step="sql", campaign=None, without="campaign")
    assert url == (
        "/leads/?mode=events&period_from=2026-03-01&period_to=2026-03-31&product=crm&step=sql&without=campaign"
    )


def test_rep_sees_no_money(rep):
    params = parse_params(QueryDict(""), rep, get_report("funnel"))
    assert not params.sees_money and not params.sees_spend


@pytest.mark.parametrize("query", ["date_from=2026-02-30", "owner=0", "team=1.5", "by=hour", "mode=EVENTS"])
def test_bad_input_names_the_field(marketer, query):
    with pytest.raises(ValidationError) as exc:
        parse_params(QueryDict(query), marketer, get_report("funnel"))
    assert query.split("=")[0] in exc.value.detail
