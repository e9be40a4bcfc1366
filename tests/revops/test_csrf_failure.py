"""A refused CSRF check answers our own 403 page (no inline style for the
Content-Security-Policy to block, in the user's language) and changes nothing."""

from django.test import Client

from leads.models import Lead


def test_a_post_without_its_token_gets_our_page_and_changes_nothing(rep, rep_lead):
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    before = Lead.objects.get(pk=rep_lead.pk).priority

    response = client.post(f"/leads/{rep_lead.pk}/", {"priority": "urgent"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 403
    body = response.content.decode()
    assert "The form has expired" in body
    assert "<style" not in body and "CSRF verification failed" not in body
    assert "style-src 'self'" in response["Content-Security-Policy"]
    assert Lead.objects.get(pk=rep_lead.pk).priority == before


def test_the_page_speaks_russian(rep):
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    rep.language = "ru"
    rep.save(update_fields=["language"])

    response = client.post("/notifications/read/", {})

    assert response.status_code == 403
    assert "Форма устарела" in response.content.decode()


def test_under_the_api_it_is_json(rf):
    from revops.views import csrf_failure

    response = csrf_failure(rf.post("/api/v1/leads/1/stage/"), reason="CSRF cookie not set.")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
