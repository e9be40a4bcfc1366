"""Sign-in lockouts (django-axes, revops/signin.py): failures are counted per
(user name, address) pair on the login page and the token endpoint together.

rep       — the target of the guessing
teammate  — another user signing in from the attacker's address
admin_user — unlocks early
"""

import datetime as dt
import logging

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core.management import call_command
from django.utils import timezone

pytestmark = pytest.mark.django_db

LIMIT = 5  # settings.AXES_FAILURE_LIMIT's default (LOGIN_FAILURE_LIMIT)
ATTACKER = "203.0.113.66"
OFFICE = "198.51.100.10"
TOKEN_URL = "/api/v1/auth/token/"
SECRET_WRONG = "hunter2-wrong-guess"


def login(client, username, password, ip):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def token(client, username, password, ip):
    return client.post(
        TOKEN_URL,
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def fail(client, n, ip=ATTACKER, username="rep"):
    return [login(client, username, SECRET_WRONG, ip).status_code for _ in range(n)]


def test_the_issue_30_wrong_passwords_then_the_right_one_is_refused(client, rep):
    codes = fail(client, 30)
    assert codes[: LIMIT - 1] == [200] * (LIMIT - 1)
    assert set(codes[LIMIT - 1 :]) == {429}

    response = login(client, "rep", "pw", ATTACKER)

    assert response.status_code == 429
    assert not signed_in(client)


def test_the_login_page_says_why_and_when_to_come_back(client, rep):
    fail(client, LIMIT - 1)
    response = login(client, "rep", SECRET_WRONG, ATTACKER)

    assert response.status_code == 429
    assert int(response["Retry-After"]) == 15 * 60
    text = response.content.decode()
    assert "Too many failed sign-in attempts" in text or "Слишком много" in text
    assert 'role="alert"' in text
    assert 'name="username"' in text  # the form is still there to try later


def test_the_message_is_translated(client, rep):
    fail(client, LIMIT)
    client.cookies["django_language"] = "en"
    english = login(client, "rep", "pw", ATTACKER).content.decode()
    assert "Try again in 15 minutes or ask an administrator to unlock it." in english


def test_another_address_is_not_locked(client, rep):
    fail(client, LIMIT)

    response = login(client, "rep", "pw", OFFICE)

    assert response.status_code == 302
    assert signed_in(client)


def test_another_user_from_the_same_address_is_not_locked(client, rep, teammate):
    fail(client, LIMIT)

    response = login(client, "teammate", "pw", ATTACKER)

    assert response.status_code == 302
    assert signed_in(client)


def test_the_lock_ends_after_the_cool_off(client, rep):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        fail(client, LIMIT)
        clock.shift(dt.timedelta(minutes=14, seconds=59))
        assert login(client, "rep", "pw", ATTACKER).status_code == 429
        # That refused attempt counts too and restarts the clock.
        clock.shift(dt.timedelta(minutes=15, seconds=1))
        assert login(client, "rep", "pw", ATTACKER).status_code == 302
    assert signed_in(client)


def test_the_lock_grows_while_the_guessing_goes_on(client, rep):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        fail(client, 2 * LIMIT)  # a second round of failures: the lock doubles
        response = login(client, "rep", SECRET_WRONG, ATTACKER)
        assert int(response["Retry-After"]) == 30 * 60
        clock.shift(dt.timedelta(minutes=16))
        assert login(client, "rep", SECRET_WRONG, ATTACKER).status_code == 429
        clock.shift(dt.timedelta(minutes=31))
        assert login(client, "rep", "pw", ATTACKER).status_code == 302


def test_the_lock_is_capped(client, rep, settings):
    settings.LOGIN_COOLOFF_MAX_MINUTES = 20
    fail(client, 2 * LIMIT)  # would double to 30 minutes
    response = login(client, "rep", SECRET_WRONG, ATTACKER)
    assert int(response["Retry-After"]) == 20 * 60


def test_an_admin_unlocks_in_the_admin(client, rep, admin_user):
    fail(client, LIMIT)
    attempt = AccessAttempt.objects.get(username="rep", ip_address=ATTACKER)

    admin = type(client)()
    admin.force_login(admin_user)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert ATTACKER in listing.content.decode()
    response = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302

    assert login(client, "rep", "pw", ATTACKER).status_code == 302


def test_an_admin_unlocks_from_the_command_line(client, rep):
    fail(client, LIMIT)

    call_command("axes_reset_username", "rep")

    assert login(client, "rep", "pw", ATTACKER).status_code == 302


def test_heads_cannot_see_or_clear_the_lockouts(client, rep, head):
    fail(client, LIMIT)
    other = type(client)()
    other.force_login(head)
    assert other.get("/admin/axes/accessattempt/").status_code == 403


def test_a_success_before_the_limit_starts_the_count_again(client, rep):
    fail(client, LIMIT - 1)
    assert login(client, "rep", "pw", ATTACKER).status_code == 302
    client.post("/logout/")

    assert fail(client, LIMIT - 1) == [200] * (LIMIT - 1)
    assert login(client, "rep", "pw", ATTACKER).status_code == 302


# --- the token endpoint ----------------------------------------------------------------------------------


def test_the_token_endpoint_answers_429_with_retry_after_and_json(client, rep):
    codes = [token(client, "rep", SECRET_WRONG, ATTACKER).status_code for _ in range(30)]
    assert codes[: LIMIT - 1] == [400] * (LIMIT - 1)
    assert set(codes[LIMIT - 1 :]) == {429}

    response = token(client, "rep", "pw", ATTACKER)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
    assert "token" not in response.json()
    # Other addresses and other users are untouched.
    assert token(client, "rep", "pw", OFFICE).status_code == 200


def test_the_page_and_the_api_share_one_count(client, rep):
    fail(client, LIMIT - 1)
    assert token(client, "rep", SECRET_WRONG, ATTACKER).status_code == 429
    assert login(client, "rep", "pw", ATTACKER).status_code == 429


def test_the_admin_login_is_locked_too(client, admin_user):
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": "admin", "password": SECRET_WRONG}, REMOTE_ADDR=ATTACKER)
    response = client.post("/admin/login/", {"username": "admin", "password": "pw"}, REMOTE_ADDR=ATTACKER)
    assert response.status_code == 429
    assert "Retry-After" in response


# --- the log ----------------------------------------------------------------------------------------------


def test_a_lockout_is_logged_with_the_name_and_address_but_never_the_password(client, rep, caplog):
    caplog.set_level(logging.DEBUG)
    fail(client, LIMIT + 1)
    token(client, "rep", SECRET_WRONG, ATTACKER)
    login(client, "rep", "pw", ATTACKER)

    locks = [r for r in caplog.records if r.name == "revops.signin"]
    assert locks
    assert "username='rep'" in locks[0].getMessage()
    assert ATTACKER in locks[0].getMessage()
    assert SECRET_WRONG not in caplog.text
    assert "password=pw" not in caplog.text
    attempt = AccessAttempt.objects.get(username="rep", ip_address=ATTACKER)
    assert SECRET_WRONG not in attempt.post_data


# --- the client's address behind a proxy ------------------------------------------------------------------


def test_behind_a_proxy_the_address_the_proxy_saw_counts(client, rep, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for _ in range(LIMIT):
        # The client writes its own X-Forwarded-For; the proxy appends what it saw.
        client.post(
            "/login/",
            {"username": "rep", "password": SECRET_WRONG},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"{OFFICE}, {ATTACKER}",
        )
    assert AccessAttempt.objects.get().ip_address == ATTACKER

    # The same proxy forwarding someone else: not locked.
    response = client.post(
        "/login/", {"username": "rep", "password": "pw"}, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=OFFICE
    )
    assert response.status_code == 302


def test_without_a_proxy_a_forwarded_header_is_ignored(client, rep, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(LIMIT):
        client.post(
            "/login/",
            {"username": "rep", "password": SECRET_WRONG},
            REMOTE_ADDR=ATTACKER,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    response = client.post(
        "/login/", {"username": "rep", "password": "pw"}, REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=OFFICE
    )
    assert response.status_code == 429


def test_a_garbled_forwarded_header_falls_back_to_the_peer(client, rep, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    fail_codes = [
        client.post(
            "/login/",
            {"username": "rep", "password": SECRET_WRONG},
            REMOTE_ADDR=ATTACKER,
            HTTP_X_FORWARDED_FOR="not-an-address",
        ).status_code
        for _ in range(LIMIT)
    ]
    assert fail_codes[-1] == 429
    assert AccessAttempt.objects.get().ip_address == ATTACKER


# --- settings ----------------------------------------------------------------------------------------------


def _settings(tmp_path, **env):
    import os
    import subprocess
    import sys
    from pathlib import Path

    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "REVOPS_ENV"}}
    environ.update(REVOPS_DATA_DIR=str(tmp_path), **env)
    code = (
        "import config.settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.LOGIN_COOLOFF_MINUTES, s.TRUSTED_PROXY_COUNT, s.API_TOKEN_DAYS)"
    )
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=environ, capture_output=True, text=True)


def test_the_settings_have_safe_defaults_and_refuse_nonsense(tmp_path):
    result = _settings(tmp_path)
    assert result.stdout.split() == ["5", "15", "0", "30"], result.stderr
    behind_proxy = _settings(tmp_path, BEHIND_TLS_PROXY="1", LOGIN_FAILURE_LIMIT="8", API_TOKEN_DAYS="7")
    assert behind_proxy.stdout.split() == ["8", "15", "1", "7"], behind_proxy.stderr
    for named, bad in [
        ("LOGIN_FAILURE_LIMIT", {"LOGIN_FAILURE_LIMIT": "0"}),
        ("LOGIN_FAILURE_LIMIT", {"LOGIN_FAILURE_LIMIT": "many"}),
        ("LOGIN_COOLOFF_MAX_MINUTES", {"LOGIN_COOLOFF_MINUTES": "30", "LOGIN_COOLOFF_MAX_MINUTES": "10"}),
        ("API_TOKEN_DAYS", {"API_TOKEN_DAYS": "0"}),
        ("TRUSTED_PROXY_COUNT", {"TRUSTED_PROXY_COUNT": "-1"}),
    ]:
        result = _settings(tmp_path, **bad)
        assert result.returncode != 0, bad
        last_line = result.stderr.strip().splitlines()[-1]
        assert "ImproperlyConfigured" in last_line and named in last_line, last_line
