"""The menu offers each role only what it may open: every item answers the
person who sees it (200, or a redirect to where their work is), never 403/404."""

import pytest
from django.test import RequestFactory

from config.context_processors import navigation

PERSONAS = ["rep", "head", "marketer", "marketing_head", "ceo", "admin"]


@pytest.mark.parametrize("who", PERSONAS)
def test_every_menu_item_opens_for_the_person_who_sees_it(people, client, who):
    user = people[who]
    request = RequestFactory().get("/")
    request.user = user
    items = navigation(request)["nav_items"]
    client.force_login(user)
    for label, url in items:
        response = client.get(url)
        assert response.status_code in (200, 302), (who, str(label), url, response.status_code)


@pytest.mark.parametrize(
    ("who", "dashboard", "spend"),
    [
        ("rep", False, False),
        ("head", True, False),
        ("marketer", True, True),
        ("marketing_head", True, True),
        ("ceo", False, True),  # the dashboard is the executive's home
        ("admin", True, True),
    ],
)
def test_dashboard_and_spend_are_offered_by_role(people, who, dashboard, spend):
    request = RequestFactory().get("/")
    request.user = people[who]
    urls = [url for _label, url in navigation(request)["nav_items"]]
    assert ("/dashboard/" in urls) is dashboard
    assert ("/reports/spend/" in urls) is spend
