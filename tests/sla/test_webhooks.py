"""Outgoing webhooks (sla/webhooks.py): the signature, which destinations are
refused, and real POSTs to a receiver on 127.0.0.1 (http.server in a thread), through
the delivery worker.

Team A has a webhook pointing at the local receiver; it allows private addresses,
as a receiver inside the company's network would. The receiver answers 200 on /ok,
500 on /fail and a redirect to /ok on /redirect.
"""

import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError
from zoneinfo import ZoneInfo

import pytest
import time_machine

from sla.delivery import deliver_due
from sla.models import DeliveryState, Notification, TeamWebhook
from sla.notify import save
from sla.webhooks import WebhookRefused, build, check_destination, post_webhook, signature
from tests.factories import LeadFactory

NOW = dt.datetime(2026, 2, 11, 11, 15, tzinfo=ZoneInfo("Europe/Moscow"))
SECRET = "team-a-signing-secret"


# --- signature and destinations (no database) ------------------------------------------------------


def test_the_signature_is_hmac_sha256_of_the_body_in_hex():
    # The RFC 4231-style reference pair every HMAC library agrees on.
    assert signature("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )
    body = json.dumps({"event": "sla.breach", "lead": 42}).encode()
    assert signature(SECRET, body) == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signature(SECRET, body) != signature("another secret", body)
    assert signature(SECRET, body) != signature(SECRET, body + b" ")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "https://10.255.1.2:8443/hook",
        "http://172.16.3.4/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "http://0.0.0.0/hook",
        "http://2130706433/hook",  # 127.0.0.1 written as one number
        "http://[::ffff:127.0.0.1]/hook",
        "http://no-such-host.invalid/hook",  # unresolvable: refused too
    ],
)
def test_private_loopback_and_link_local_destinations_are_refused(url):
    with pytest.raises(WebhookRefused):
        check_destination(url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000/hook", "http://10.0.0.5/hook", "http://192.168.1.10/hook", "http://[::1]/"]
)
def test_private_destinations_are_allowed_when_the_webhook_says_so(url):
    check_destination(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "javascript:alert(1)",
        "http:///no-host",
        "hooks.example.com/no-scheme",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_only_http_urls_with_a_host_are_accepted(url, allow_private):
    with pytest.raises(WebhookRefused):
        check_destination(url, allow_private=allow_private)


@pytest.mark.parametrize("url", ["https://93.184.215.14/hook", "http://8.8.8.8:8080/hook"])
def test_public_addresses_are_accepted(url):
    check_destination(url, allow_private=False)


# --- a real receiver --------------------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.path == "/fail":
            self._answer(500, b"boom")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._answer(200, b'{"ok": true}')

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def receiver(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # talk to 127.0.0.1 directly
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def clock(db):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def lead(rep, clock):
    return LeadFactory(owner=rep)


PAYLOAD = {
    "event": "sla.breach",
    "breach": 7,
    "lead": 42,
    "timer_kind": "first_contact",
    "delay_owner": "rep",
    "due_at": "2026-02-11T08:15:00+00:00",
    "breached_at": "2026-02-11T11:15:00+03:00",
    "note": "Лид просрочен",  # non-ASCII travels as UTF-8
}


@pytest.fixture
def hook_to(receiver, lead, rep):
    """hook_to(path) → (a team A webhook to the receiver's `path`, its queued outbox row)."""

    def make(path, *, allow_private=True):
        hook = TeamWebhook.objects.create(
            team=rep.team,
            url=f"http://127.0.0.1:{receiver.server_port}{path}",
            secret=SECRET,
            allow_private=allow_private,
        )
        save(build([hook], "sla.breach", event="breach:7", lead_id=lead.pk, payload=PAYLOAD))
        return hook, Notification.objects.get(target_url=hook.url)

    return make


def test_the_receiver_gets_the_signed_json_body(receiver, hook_to):
    hook, row = hook_to("/ok")

    post_webhook(row)

    [request] = receiver.received
    assert request["path"] == "/ok"
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"].decode()) == PAYLOAD
    expected = "sha256=" + hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["X-Revops-Signature"], expected)
    assert request["headers"]["X-Revops-Delivery"] == row.dedupe_key


def test_the_worker_delivers_a_webhook_once(receiver, hook_to):
    _, row = hook_to("/ok")

    assert deliver_due(now=NOW)["delivered"] == 1
    assert deliver_due(now=NOW + dt.timedelta(minutes=5))["delivered"] == 0

    assert len(receiver.received) == 1
    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.DELIVERED, 1)


def test_a_server_error_makes_the_delivery_retry(receiver, hook_to):
    _, row = hook_to("/fail")

    counts = deliver_due(now=NOW)

    assert counts["retry"] == 1
    assert len(receiver.received) == 1
    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.PENDING, 1)
    assert row.next_attempt_at > NOW
    assert "500" in row.last_error


def test_a_server_error_raises_from_the_post(receiver, hook_to):
    _, row = hook_to("/fail")

    with pytest.raises(HTTPError):
        post_webhook(row)


def test_a_redirect_is_refused_and_not_followed(receiver, hook_to):
    _, row = hook_to("/redirect")

    with pytest.raises(WebhookRefused):
        post_webhook(row)

    assert [r["path"] for r in receiver.received] == ["/redirect"]


def test_a_redirect_leaves_the_delivery_pending_for_a_retry(receiver, hook_to):
    _, row = hook_to("/redirect")

    assert deliver_due(now=NOW)["retry"] == 1

    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.PENDING, 1)
    assert "redirect" in row.last_error
    assert [r["path"] for r in receiver.received] == ["/redirect"]


def test_a_webhook_to_a_private_address_is_not_called_unless_allowed(receiver, hook_to):
    _, row = hook_to("/ok", allow_private=False)

    assert deliver_due(now=NOW)["retry"] == 1

    assert receiver.received == []
    row.refresh_from_db()
    assert row.state == DeliveryState.PENDING
    assert "non-public" in row.last_error


def test_a_switched_off_webhook_sends_nothing(receiver, hook_to):
    hook, row = hook_to("/ok")
    TeamWebhook.objects.filter(pk=hook.pk).update(is_active=False)

    deliver_due(now=NOW)

    assert receiver.received == []
