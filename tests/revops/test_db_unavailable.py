"""While the database is out of reach every request answers 503 with
Retry-After — JSON for the API, a short translated page for the rest — never
500; errors that retrying cannot fix stay 500. (A PostgreSQL restart under load
answered 222 requests with 500.) The real restart: tests/integration/test_db_faults.py."""

import contextlib
import json
from unittest import mock

import psycopg2
import pytest
from django.db import IntegrityError, InterfaceError, OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client

from leads.intake_keys import create_key
from revops.middleware import DATABASE_RETRY_AFTER, database_unavailable
from tests.factories import SourceFactory


class Deadlock(Exception):
    pgcode = "40P01"


class AdminShutdown(Exception):
    pgcode = "57P01"


def caused(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause  # as Django's error wrapper raises it
    return error


SERVER_GONE = caused(
    OperationalError("server closed the connection unexpectedly"),
    psycopg2.OperationalError("server closed the connection unexpectedly"),
)


@contextlib.contextmanager
def database_down(error: Exception = SERVER_GONE):
    """Every query fails as it does while PostgreSQL restarts."""

    def fail(self, *args, **kwargs):
        raise error

    with (
        mock.patch.object(CursorWrapper, "execute", fail),
        mock.patch.object(CursorWrapper, "executemany", fail),
    ):
        yield


@pytest.fixture
def signed_in(rep):
    # The test client re-raises an exception Django handled; a real client sees only the answer.
    client = Client(raise_request_exception=False)
    client.force_login(rep)
    return client


def assert_unavailable(response, *, json_body: bool):
    assert response.status_code == 503
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert "no-cache" in response["Cache-Control"]
    if json_body:
        assert response["Content-Type"] == "application/json"
        assert "try again" in json.loads(response.content)["detail"]
    else:
        assert response["Content-Type"].startswith("text/html")
        assert "Traceback" not in response.content.decode()


def test_a_page_whose_session_cannot_be_loaded_answers_503(signed_in):
    # Loading the session and the user (middleware, before any view) is the first query.
    with database_down():
        response = signed_in.get("/leads/", HTTP_ACCEPT_LANGUAGE="en")
    assert_unavailable(response, json_body=False)
    page = response.content.decode()
    assert '<html lang="en">' in page and "Back in a moment" in page and "try again in a few seconds" in page


def test_the_page_speaks_the_callers_language(signed_in):
    with database_down():
        response = signed_in.get("/leads/", HTTP_ACCEPT_LANGUAGE="ru")
    assert_unavailable(response, json_body=False)
    assert '<html lang="ru">' in response.content.decode()


def test_a_view_that_fails_on_the_database_answers_503(signed_in, monkeypatch):
    from sla.models import Notification

    def unread_for(user):
        raise SERVER_GONE

    monkeypatch.setattr(Notification.objects, "unread_for", unread_for)  # the session still loads
    response = signed_in.get("/notifications/badge/", HTTP_ACCEPT_LANGUAGE="en")
    assert_unavailable(response, json_body=False)


def test_the_api_answers_503_with_json(signed_in):
    with database_down():
        response = signed_in.get("/api/v1/leads/", HTTP_ACCEPT_LANGUAGE="en")
    assert_unavailable(response, json_body=True)


def test_intake_answers_503_so_the_site_retries(db):
    key = create_key(SourceFactory(code="site"))[1]
    body = {"name": "Ирина", "phone": "+79161234567", "consent": True}
    with database_down():  # anonymous: nothing touches the database before the view (DRF)
        response = Client().post(
            "/api/v1/intake/",
            body,
            content_type="application/json",
            HTTP_X_INTAKE_KEY=key,
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert_unavailable(response, json_body=True)


def test_healthz_says_down(db):
    with database_down():
        response = Client().get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "down"


def test_a_deadlock_is_not_an_outage(signed_in, monkeypatch):
    from sla.models import Notification

    def unread_for(user):
        raise caused(OperationalError("deadlock detected"), Deadlock())

    monkeypatch.setattr(Notification.objects, "unread_for", unread_for)
    response = signed_in.get("/notifications/badge/")
    assert response.status_code == 500 and "Retry-After" not in response


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (SERVER_GONE, True),
        (caused(OperationalError("could not connect"), psycopg2.OperationalError("refused")), True),
        (caused(OperationalError("terminating connection"), AdminShutdown()), True),
        (InterfaceError("connection already closed"), True),
        (OperationalError("unable to open database file"), True),  # SQLite
        (OperationalError("database is locked"), True),  # SQLite, busy past its timeout
        (caused(OperationalError("deadlock detected"), Deadlock()), False),
        (OperationalError("no such table: leads_lead"), False),
        (IntegrityError("duplicate key"), False),
        (ValueError("not a database error"), False),
    ],
)
def test_which_errors_mean_the_database_is_out_of_reach(error, unavailable):
    assert database_unavailable(error) is unavailable
