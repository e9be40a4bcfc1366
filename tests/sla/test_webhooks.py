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
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError, URLError
from zoneinfo import ZoneInfo

import pytest
import time_machine

from sla import webhooks
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


# --- loopback in disguise and DNS rebinding (issue #11, item 14) -----------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
        "http://[64:ff9b::a00:5]/hook",  # NAT64 of 10.0.0.5
        "http://[64:ff9b:1::7f00:1]/hook",  # local-use NAT64 prefix
        "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "http://[2002:a9fe:a9fe::1]/latest/meta-data/",  # 6to4 of 169.254.169.254
        "http://[::127.0.0.1]/hook",  # IPv4-compatible
        "http://[::ffff:0:7f00:1]/hook",  # IPv4-translated (SIIT)
        "http://[::ffff:10.0.0.5]/hook",  # IPv4-mapped
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",  # Teredo, client 127.0.0.1
        "http://[fe80::1]/hook",  # link-local
        "http://[fd00::1]/hook",  # unique local
        "http://[ff02::1]/hook",  # multicast
        "http://224.0.0.1/hook",  # multicast
        "http://100.64.0.1/hook",  # carrier-grade NAT
    ],
)
def test_loopback_and_private_addresses_in_ipv6_clothing_are_refused(url):
    with pytest.raises(WebhookRefused, match="non-public"):
        check_destination(url, allow_private=False)


@pytest.mark.parametrize("url", ["http://[64:ff9b::808:808]/hook", "http://[2002:808:808::]/hook"])
def test_nat64_and_6to4_forms_of_a_public_address_are_accepted(url):
    check_destination(url, allow_private=False)


def test_a_port_that_is_not_a_number_is_refused():
    with pytest.raises(WebhookRefused):
        check_destination("http://example.com:http/hook", allow_private=False)


def fake_resolver(monkeypatch, answers: dict[str, list[str]]):
    """Patch socket.getaddrinfo: each name in `answers` resolves to the next address of its
    list (the last one repeats); any other name (an IP literal) resolves as usual."""
    real = socket.getaddrinfo
    calls: dict[str, int] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        n = calls[host] = calls.get(host, 0) + 1
        ip = answers[host][min(n, len(answers[host])) - 1]
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        sockaddr = (ip, port, 0, 0) if family == socket.AF_INET6 else (ip, port)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def test_dns_rebinding_cannot_make_the_post_reach_loopback(receiver, hook_to, monkeypatch):
    # The name is public when checked and 127.0.0.1 (the receiver) on every later lookup.
    # Connections to anything but loopback fail at once here (no network in tests).
    fake_resolver(monkeypatch, {"rebind.example.test": ["93.184.215.14", "127.0.0.1"]})
    connected = []
    real_connect = getattr(webhooks, "_connect", None)

    def connect(family, sockaddr, timeout):
        connected.append(sockaddr[0])
        if sockaddr[0] != "127.0.0.1":
            raise ConnectionRefusedError("no network in tests")
        return real_connect(family, sockaddr, timeout)

    monkeypatch.setattr(webhooks, "_connect", connect, raising=False)  # absent before the fix
    hook, row = hook_to("/ok", allow_private=False)
    TeamWebhook.objects.filter(pk=hook.pk).update(url=f"http://rebind.example.test:{receiver.server_port}/ok")

    with pytest.raises(URLError):
        post_webhook(row)

    assert receiver.received == []
    assert connected == ["93.184.215.14"]


def test_the_post_goes_to_the_checked_address_with_the_urls_host_name(receiver, hook_to, monkeypatch):
    calls = fake_resolver(monkeypatch, {"hooks.example.test": ["127.0.0.1", "10.9.9.9"]})
    hook, row = hook_to("/ok")
    TeamWebhook.objects.filter(pk=hook.pk).update(url=f"http://hooks.example.test:{receiver.server_port}/ok")

    post_webhook(row)

    assert calls == {"hooks.example.test": 1}  # resolved once
    [request] = receiver.received
    assert request["headers"]["Host"] == f"hooks.example.test:{receiver.server_port}"


def test_a_proxy_from_the_environment_is_not_used(receiver, hook_to, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9/")  # nothing listens on the discard port
    _, row = hook_to("/ok")

    post_webhook(row)

    assert [r["path"] for r in receiver.received] == ["/ok"]


@pytest.fixture
def tls_receiver(tmp_path):
    """An HTTPS receiver on 127.0.0.1 whose self-signed certificate names hooks.example.test."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=hooks.example.test",
         "-addext", "subjectAltName=DNS:hooks.example.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.cert = cert
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.mark.parametrize(("name", "verified"), [("hooks.example.test", True), ("other.example.test", False)])
def test_https_to_the_checked_address_verifies_the_certificate_against_the_urls_name(
    tls_receiver, hook_to, monkeypatch, name, verified
):
    fake_resolver(monkeypatch, {name: ["127.0.0.1"]})
    monkeypatch.setattr(webhooks, "tls_context", lambda: ssl.create_default_context(cafile=tls_receiver.cert))
    hook, row = hook_to("/ok")
    TeamWebhook.objects.filter(pk=hook.pk).update(url=f"https://{name}:{tls_receiver.server_port}/ok")

    if verified:
        post_webhook(row)
        [request] = tls_receiver.received
        assert request["headers"]["Host"] == f"{name}:{tls_receiver.server_port}"
    else:
        with pytest.raises(URLError, match="CERTIFICATE_VERIFY_FAILED|match"):
            post_webhook(row)
        assert tls_receiver.received == []
