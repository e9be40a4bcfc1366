"""Intake's limits (issue #11, item 10): bodies over 64 kB answer 413 without
being read, and an address that keeps sending wrong keys is slowed down with 429."""

import datetime as dt
import io
import json
import os
import uuid

import pytest
import redis
import time_machine
from django.test import Client
from rest_framework.test import APIClient

from leads.intake_api import MAX_BODY_BYTES
from leads.intake_keys import create_key
from leads.models import InboundRequest, Lead, SiteForm
from tests.conftest import skip_or_fail
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/intake/"
ORIGIN = "https://www.example.ru"
BODY = {"name": "Анна", "phone": "+7 916 765-43-21", "consent": True}


@pytest.fixture(autouse=True)
def working_hours():
    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def key(db):
    return create_key(SourceFactory(code="site"))[1]


@pytest.fixture
def form(db):
    return SiteForm.objects.create(
        public_id="f-limits",
        source=SourceFactory(code="seo"),
        name="Main site",
        allowed_origins=ORIGIN,
        rate_limit_per_minute=1000,
    )


def padded(size: int) -> bytes:
    """An intake body of exactly `size` bytes, padded inside `extra`."""
    body = {**BODY, "extra": {"pad": ""}}
    base = len(json.dumps(body).encode())
    body["extra"]["pad"] = "x" * (size - base)
    raw = json.dumps(body).encode()
    assert len(raw) == size
    return raw


class Unreadable(io.RawIOBase):
    """A request stream that fails the test if anyone reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


def test_a_body_over_64_kb_is_a_413_with_a_json_error(key):
    response = APIClient().post(
        URL, padded(MAX_BODY_BYTES + 1), content_type="application/json", HTTP_X_INTAKE_KEY=key
    )
    assert response.status_code == 413
    assert "64" in response.json()["detail"]
    assert not Lead.objects.exists() and not InboundRequest.objects.exists()


def test_a_body_of_64_kb_is_read(key):
    response = APIClient().post(
        URL, padded(MAX_BODY_BYTES), content_type="application/json", HTTP_X_INTAKE_KEY=key
    )
    # Read and judged: `extra` is over its own 8 kB limit.
    assert response.status_code == 400 and "extra" in response.json()


def test_a_20_mb_declared_length_is_refused_without_reading_the_body(key):
    response = Client().post(
        URL,
        b"{}",
        content_type="application/json",
        HTTP_X_INTAKE_KEY=key,
        CONTENT_LENGTH=str(20 * 1024 * 1024),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"


def test_the_site_form_refuses_a_large_body_too(form):
    response = Client().post(
        f"/forms/{form.public_id}/submit/",
        padded(MAX_BODY_BYTES + 1),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code == 413 and "detail" in response.json()
    response = Client().post(
        f"/forms/{form.public_id}/submit/",
        b"",
        content_type="application/x-www-form-urlencoded",
        HTTP_ORIGIN=ORIGIN,
        CONTENT_LENGTH=str(50 * 1024 * 1024),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert not Lead.objects.exists()


def chunked(client_kwargs: dict, data: bytes) -> dict:
    """What a server that de-chunks the body (gunicorn) hands the app: no
    Content-Length, the stream ends where the body does."""
    return {
        **client_kwargs,
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_LENGTH": "",
        "wsgi.input": io.BytesIO(data),
        "wsgi.input_terminated": True,
    }


def test_a_chunked_body_over_the_limit_is_a_413(key):
    data = padded(MAX_BODY_BYTES * 4)
    response = Client().post(
        URL, b"", content_type="application/json", **chunked({"HTTP_X_INTAKE_KEY": key}, data)
    )
    assert response.status_code == 413
    assert not Lead.objects.exists()


def test_a_small_chunked_body_is_taken(key):
    data = json.dumps(BODY).encode()
    response = Client().post(
        URL, b"", content_type="application/json", **chunked({"HTTP_X_INTAKE_KEY": key}, data)
    )
    assert response.status_code == 201, response.content
    assert Lead.objects.count() == 1


# --- wrong keys ----------------------------------------------------------------------------------------


def test_wrong_keys_from_one_address_are_slowed_down_with_429(settings, key, working_hours):
    settings.INTAKE_BAD_KEY_LIMIT_PER_IP = 5
    settings.INTAKE_BAD_KEY_WINDOW = 600
    api = APIClient()
    codes = [api.post(URL, BODY, format="json", HTTP_X_INTAKE_KEY=f"wrong-{n}").status_code for n in range(5)]
    assert codes == [403] * 5
    refused = api.post(URL, BODY, format="json", HTTP_X_INTAKE_KEY="wrong-5")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 600
    assert "detail" in refused.json()
    # A right guess now learns nothing: the address is refused until the window ends.
    assert api.post(URL, BODY, format="json", HTTP_X_INTAKE_KEY=key).status_code == 429
    assert not Lead.objects.exists()
    # Another address is not affected.
    assert (
        api.post(URL, BODY, format="json", HTTP_X_INTAKE_KEY=key, REMOTE_ADDR="198.51.100.9").status_code
        == 201
    )
    # After the window the address may try again.
    working_hours.shift(dt.timedelta(seconds=601))
    assert api.post(URL, BODY, format="json", HTTP_X_INTAKE_KEY=key).status_code == 200  # joins the open lead


def test_missing_keys_count_as_wrong_ones(settings):
    settings.INTAKE_BAD_KEY_LIMIT_PER_IP = 2
    api = APIClient()
    assert [api.post(URL, BODY, format="json").status_code for _ in range(3)] == [401, 401, 429]


def test_right_keys_never_count_towards_the_limit(settings, key):
    settings.INTAKE_BAD_KEY_LIMIT_PER_IP = 2
    api = APIClient()
    for n in range(5):
        body = {**BODY, "phone": f"+7916555000{n}"}
        assert api.post(URL, body, format="json", HTTP_X_INTAKE_KEY=key).status_code == 201


def test_the_limit_fails_open_when_the_cache_is_down(settings, key, monkeypatch):
    settings.INTAKE_BAD_KEY_LIMIT_PER_IP = 1

    class Down:
        def __getattr__(self, name):
            raise ConnectionError("cache down")

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr("revops.ratelimit.cache", Down())
    monkeypatch.setattr("revops.ratelimit._count", down)
    api = APIClient()
    assert [api.post(URL, BODY, format="json", HTTP_X_INTAKE_KEY="wrong").status_code for _ in range(3)] == [
        403
    ] * 3
    assert api.post(URL, BODY, format="json", HTTP_X_INTAKE_KEY=key).status_code == 201


def test_wrong_keys_are_counted_in_redis(settings, key):
    """The counter hit() writes with INCR is the one over() reads through Django's cache."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        }
    }
    settings.INTAKE_BAD_KEY_LIMIT_PER_IP = 3
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError:
        skip_or_fail(f"no Redis at {url}")
    try:
        api = APIClient()
        codes = [api.post(URL, BODY, format="json", HTTP_X_INTAKE_KEY="wrong").status_code for _ in range(4)]
        assert codes == [403, 403, 403, 429]
        (counter,) = client.keys(f"{prefix}:*intake-bad-key:127.0.0.1:*")
        # Every wrong key is counted, the refused fourth too.
        assert int(client.get(counter)) == 4 and 0 < client.ttl(counter) <= settings.INTAKE_BAD_KEY_WINDOW + 1
    finally:
        for name in client.keys(f"{prefix}:*"):
            client.delete(name)


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(settings):
    # A proxy in front of the web must not make every site one address; an
    # X-Forwarded-For entry a client wrote itself (left of our proxy's) is ignored.
    settings.TRUSTED_PROXY_COUNT = 1
    settings.INTAKE_BAD_KEY_LIMIT_PER_IP = 1
    api = APIClient()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    first = {"HTTP_X_FORWARDED_FOR": "203.0.113.1", **proxy}
    assert [api.post(URL, BODY, format="json", **first).status_code for _ in range(2)] == [401, 429]
    spoofed = {"HTTP_X_FORWARDED_FOR": "203.0.113.1, 203.0.113.2", **proxy}
    assert api.post(URL, BODY, format="json", **spoofed).status_code == 401
