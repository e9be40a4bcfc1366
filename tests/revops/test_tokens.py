"""API tokens (revops.models.ApiToken, revops/tokens.py): a new hashed token per
request, expiring, killed by a password change or deactivation, listed and
revoked by their owner; admins see and revoke anyone's in the admin.

rep, teammate, head … ceo — every persona holds own tokens and only sees those
admin_user               — sees and revokes everyone's through the admin
"""

import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from revops.models import ApiToken, User

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
LIST_URL = "/api/v1/auth/tokens/"
LEADS_URL = "/api/v1/leads/"
PERSONAS = [
    "rep",
    "teammate",
    "other_rep",
    "head",
    "other_head",
    "marketer",
    "marketing_head",
    "ceo",
    "admin_user",
]


def issue(username, name=None) -> dict:
    body = {"username": username, "password": "pw"}
    if name is not None:
        body["name"] = name
    response = APIClient().post(TOKEN_URL, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def as_token(secret) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return api


def works(secret) -> bool:
    status = as_token(secret).get(LEADS_URL).status_code
    assert status in {200, 401}
    return status == 200


def test_each_request_issues_a_new_token_and_all_of_them_work(rep):
    first = issue("rep", name="telephony")
    second = issue("rep", name="website")

    assert first["token"] != second["token"]
    assert works(first["token"]) and works(second["token"])
    assert first["name"] == "telephony"
    assert ApiToken.objects.filter(user=rep).count() == 2


def test_the_answer_keeps_token_and_adds_the_expiry(rep, settings):
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        body = issue("rep")
    assert set(body) == {"token", "id", "name", "expires_at"}
    assert dt.datetime.fromisoformat(body["expires_at"]) == now + dt.timedelta(days=settings.API_TOKEN_DAYS)
    assert settings.API_TOKEN_DAYS == 30


def test_tokens_are_stored_hashed(rep):
    secret = issue("rep")["token"]
    row = ApiToken.objects.get(user=rep)
    stored = " ".join(str(v) for v in ApiToken.objects.filter(pk=row.pk).values_list().get())
    assert secret not in stored
    assert row.digest == ApiToken.digest_of(secret)


def test_a_token_expires(rep, settings):
    settings.API_TOKEN_DAYS = 2
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        secret = issue("rep")["token"]
        clock.shift(dt.timedelta(days=2) - dt.timedelta(seconds=1))
        assert works(secret)
        clock.shift(dt.timedelta(seconds=1))
        assert not works(secret)
        response = as_token(secret).get(LEADS_URL)
        assert response.status_code == 401
        assert response.json()["detail"]
        # Expired tokens are not listed, and the next issue clears them away.
        fresh = issue("rep")["token"]
        assert [t["id"] for t in as_token(fresh).get(LIST_URL).json()["results"]] == [
            ApiToken.objects.get(user=rep).pk
        ]


def test_a_password_change_kills_every_token(rep):
    secrets = [issue("rep")["token"] for _ in range(2)]
    rep.set_password("a-new-long-password")
    rep.save()
    assert not any(works(s) for s in secrets)
    assert not ApiToken.objects.filter(user=rep).exists()


def test_a_password_change_saving_only_the_password_kills_them_too(rep):
    secret = issue("rep")["token"]
    user = User.objects.get(pk=rep.pk)
    user.set_password("a-new-long-password")
    user.save(update_fields=["password"])
    assert not works(secret)


def test_a_password_changed_on_the_page_kills_them(rep, client):
    from django.contrib.auth.forms import PasswordChangeForm

    secret = issue("rep")["token"]
    form = PasswordChangeForm(
        User.objects.get(pk=rep.pk),
        {"old_password": "pw", "new_password1": "Zq7!long-enough", "new_password2": "Zq7!long-enough"},
    )
    assert form.is_valid(), form.errors
    form.save()
    assert not works(secret)


def test_a_rehash_of_the_same_password_keeps_the_tokens(rep, settings):
    # Django re-hashes a correct password when the hasher changes; that is not a
    # new password, so integrations keep working.
    secret = issue("rep")["token"]
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    user = User.objects.get(pk=rep.pk)
    assert user.check_password("pw")
    assert User.objects.get(pk=rep.pk).password.startswith("scrypt$")
    assert works(secret)


def test_other_saves_of_the_user_keep_the_tokens(rep):
    secret = issue("rep")["token"]
    user = User.objects.get(pk=rep.pk)
    user.first_name = "Renamed"
    user.save()
    user.language = "en"
    user.save(update_fields=["language"])
    assert works(secret)


def test_deactivation_kills_every_token_for_good(rep):
    secret = issue("rep")["token"]
    rep.is_active = False
    rep.save()
    assert not works(secret)
    rep.is_active = True
    rep.save()
    assert not works(secret)


def test_signing_out_of_the_browser_leaves_tokens_alone(rep, client):
    secret = issue("rep")["token"]
    client.force_login(rep)
    client.post("/logout/")
    assert works(secret)
    # Signing in again does not touch them either.
    assert client.post("/login/", {"username": "rep", "password": "pw"}).status_code == 302
    assert works(secret)


def test_the_old_contract_still_works(rep):
    response = APIClient().post(TOKEN_URL, {"username": "rep", "password": "pw"}, format="json")
    assert response.status_code == 200
    assert works(response.json()["token"])
    # A form-encoded body, as DRF's old endpoint took, too.
    response = APIClient().post(TOKEN_URL, {"username": "rep", "password": "pw"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "rep"},
        {"password": "pw"},
        {"username": "rep", "password": "pw", "name": "x" * 101},
        {"username": "rep\x00", "password": "pw"},
        {"username": "u" * 151, "password": "pw"},
    ],
)
def test_bad_bodies_are_400_with_field_messages(rep, body):
    response = APIClient().post(TOKEN_URL, body, format="json")
    assert response.status_code == 400
    assert isinstance(response.json(), dict) and response.json()
    assert not ApiToken.objects.exists()


def test_a_deactivated_user_gets_no_token(rep):
    rep.is_active = False
    rep.save()
    response = APIClient().post(TOKEN_URL, {"username": "rep", "password": "pw"}, format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


# --- list and revoke own -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", PERSONAS)
def test_every_role_lists_and_revokes_only_own_tokens(request, who, people):
    owner = request.getfixturevalue(who)
    stranger_name = "ceo" if who != "ceo" else "rep"
    stranger = issue(stranger_name, name="theirs")
    mine = issue(owner.username, name="mine")
    spare = issue(owner.username, name="spare")
    api = as_token(mine["token"])

    listing = api.get(LIST_URL)
    assert listing.status_code == 200
    rows = listing.json()["results"]
    assert {r["id"] for r in rows} == {mine["id"], spare["id"]}
    assert set(rows[0]) == {"id", "name", "created_at", "expires_at", "last_used_at"}
    assert mine["token"] not in listing.content.decode()

    # Someone else's id: not found, and it keeps working.
    assert api.delete(f"{LIST_URL}{stranger['id']}/").status_code == 404
    assert works(stranger["token"])

    assert api.delete(f"{LIST_URL}{spare['id']}/").status_code == 204
    assert not works(spare["token"])
    assert works(mine["token"])
    assert api.delete(f"{LIST_URL}{spare['id']}/").status_code == 404


def test_revoking_the_token_in_use_ends_it(rep):
    mine = issue("rep")
    api = as_token(mine["token"])
    assert api.delete(f"{LIST_URL}{mine['id']}/").status_code == 204
    assert api.get(LIST_URL).status_code == 401


def test_last_use_is_recorded_cheaply(rep):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        mine = issue("rep")
        api = as_token(mine["token"])
        assert api.get(LIST_URL).json()["results"][0]["last_used_at"] is not None
        clock.shift(dt.timedelta(seconds=30))
        api.get(LEADS_URL)
        assert ApiToken.objects.get().last_used_at == start  # within the minute: no write
        clock.shift(dt.timedelta(seconds=31))
        api.get(LEADS_URL)
        assert ApiToken.objects.get().last_used_at == start + dt.timedelta(seconds=61)


def test_the_session_lists_own_tokens_too_and_revokes_only_with_csrf(rep):
    mine = issue("rep", name="telephony")
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(rep)
    response = browser.get(LIST_URL)
    assert response.status_code == 200
    assert [r["name"] for r in response.json()["results"]] == ["telephony"]
    assert browser.delete(f"{LIST_URL}{mine['id']}/").status_code == 403
    assert works(mine["token"])


def test_anonymous_callers_get_401(rep):
    assert APIClient().get(LIST_URL).status_code == 401
    assert APIClient().delete(f"{LIST_URL}1/").status_code == 401
    assert as_token("rvo_nonsense").get(LIST_URL).status_code == 401


def test_an_id_past_64_bits_is_not_found(rep):
    api = as_token(issue("rep")["token"])
    assert api.delete(f"{LIST_URL}{'9' * 20}/").status_code == 404


def test_a_token_cannot_be_changed_through_the_api(rep):
    mine = issue("rep")
    api = as_token(mine["token"])
    assert api.patch(f"{LIST_URL}{mine['id']}/", {"name": "x"}, format="json").status_code == 405
    assert api.post(LIST_URL, {"name": "x"}, format="json").status_code == 405


# --- the page ------------------------------------------------------------------------------------------------


def test_the_page_lists_creates_and_revokes_own_tokens(rep, teammate, client):
    theirs = issue("teammate", name="theirs")
    issue("rep", name="telephony")
    client.force_login(rep)

    page = client.get("/account/tokens/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "telephony" in text and "theirs" not in text
    # No inline code: scripts load from files; data rides in non-executable JSON blocks.
    body = text.split("</head>")[1]
    assert not re.findall(r'<script(?! src="| id="[\w-]+" type="application/json">)', body)

    created = client.post("/account/tokens/", {"name": "website"})
    assert created.status_code == 200
    token = ApiToken.objects.get(user=rep, name="website")
    secret = created.context["new_secret"]
    assert secret and secret in created.content.decode()
    assert token.digest == ApiToken.digest_of(secret)
    assert secret not in client.get("/account/tokens/").content.decode()  # shown once

    # Someone else's token: refused, untouched.
    client.post("/account/tokens/", {"revoke": theirs["id"]})
    assert works(theirs["token"])
    response = client.post("/account/tokens/", {"revoke": token.pk})
    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    # Nonsense is a message, not a 500.
    assert client.post("/account/tokens/", {"revoke": "²"}).status_code == 302
    assert client.post("/account/tokens/", {"name": "x" * 101}).status_code == 400


def test_the_page_is_linked_from_the_user_menu_and_needs_a_sign_in(rep, client):
    assert client.get("/account/tokens/").status_code == 302
    client.force_login(rep)
    assert 'href="/account/tokens/"' in client.get("/notifications/").content.decode()


# --- the admin -------------------------------------------------------------------------------------------------


def test_an_admin_sees_and_revokes_anyones_tokens(client, rep, admin_user):
    mine = issue("rep", name="telephony")
    client.force_login(admin_user)
    listing = client.get("/admin/revops/apitoken/")
    assert listing.status_code == 200
    assert "telephony" in listing.content.decode()
    assert mine["token"] not in listing.content.decode()
    assert ApiToken.objects.get().digest not in listing.content.decode()

    response = client.post(f"/admin/revops/apitoken/{mine['id']}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not works(mine["token"])


@pytest.mark.parametrize("who", ["rep", "head", "ceo", "marketing_head"])
def test_only_admins_reach_other_peoples_tokens(client, request, who, people):
    client.force_login(request.getfixturevalue(who))
    assert client.get("/admin/revops/apitoken/").status_code in {302, 403}


def test_the_schema_tells_the_truth_about_the_token_endpoints(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert {"200", "400", "429"} <= set(paths["/api/v1/auth/token/"]["post"]["responses"])
    assert {"200", "401"} <= set(paths["/api/v1/auth/tokens/"]["get"]["responses"])
    assert {"204", "401", "403", "404"} <= set(paths["/api/v1/auth/tokens/{id}/"]["delete"]["responses"])
    issued = schema["components"]["schemas"]["IssuedToken"]["properties"]
    assert {"token", "expires_at"} <= set(issued)
