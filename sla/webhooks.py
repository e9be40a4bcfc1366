"""Outgoing webhooks: queued as outbox rows in the event's transaction, POSTed
by the delivery worker with an HMAC-SHA256 signature, retried with backoff.
Private, loopback and link-local addresses are refused unless the webhook
explicitly allows them (so a webhook cannot be used to probe the internal
network).

The host name is resolved once; every address it resolves to is checked, and
the connection goes to one of exactly those addresses (never a second lookup,
which DNS rebinding could answer differently). The request still carries the
URL's host name in the Host header, in the TLS SNI and in certificate
verification, so virtual hosts and HTTPS work as with any client. Proxies from
the environment are not used: a proxy would resolve the name itself."""

import functools
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils import timezone

from sla.models import DeliveryState, Notification, NotificationChannel, NotificationKind, TeamWebhook

TIMEOUT_SECONDS = 5
KIND_FOR_EVENT = {"sla.breach": NotificationKind.SLA_BREACH, "lead.nurtured": NotificationKind.NURTURED}

# IPv6 ranges that carry an IPv4 address in their last 32 bits: the embedded
# address is what the packet finally reaches, so it must be public too.
# (IPv4-mapped ::ffff:0:0/96 and 6to4 2002::/16 are read by the ipaddress module.)
_EMBEDS_IPV4_LAST_32_BITS = (
    ipaddress.ip_network("::/96"),  # IPv4-compatible (deprecated), e.g. ::127.0.0.1
    ipaddress.ip_network("::ffff:0:0:0/96"),  # SIIT IPv4-translated, e.g. ::ffff:0:7f00:1
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64 well-known prefix, e.g. 64:ff9b::7f00:1
)
# Refused whatever they embed: local-use NAT64 (RFC 8215, the embedding depends on
# the operator's prefix length) and Teredo tunnels.
_NEVER_PUBLIC_IPV6 = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("2001::/32"))


class WebhookRefused(Exception):
    pass


def webhooks_by_team(team_ids) -> dict[int, list[TeamWebhook]]:
    result: dict[int, list[TeamWebhook]] = {}
    for hook in TeamWebhook.objects.filter(team_id__in=[t for t in team_ids if t], is_active=True):
        result.setdefault(hook.team_id, []).append(hook)
    return result


def build(hooks, event_name: str, *, event: str, lead_id: int, payload: dict) -> list[Notification]:
    now = timezone.now()
    return [
        Notification(
            channel=NotificationChannel.WEBHOOK,
            kind=KIND_FOR_EVENT.get(event_name, NotificationKind.SLA_BREACH),
            lead_id=lead_id,
            params={"webhook": hook.pk, "payload": payload},
            target_url=hook.url,
            dedupe_key=f"webhook:{event}:{hook.pk}",
            state=DeliveryState.PENDING,
            created_at=now,
            next_attempt_at=now,
        )
        for hook in hooks
    ]


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether packets to this address can only reach the public internet.

    Python's `is_global` alone is not enough: it counts NAT64, 6to4 and
    IPv4-compatible forms of 127.0.0.1 as global, and multicast as global."""
    if address.is_multicast or address.is_unspecified or not address.is_global:
        return False
    if address.version == 4:
        return True
    if any(address in network for network in _NEVER_PUBLIC_IPV6):
        return False
    embedded = [address.ipv4_mapped, address.sixtofour]
    if any(address in network for network in _EMBEDS_IPV4_LAST_32_BITS):
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return all(is_public(inner) for inner in embedded if inner is not None)


@dataclass(frozen=True)
class Destination:
    """A checked URL: its host name and the socket addresses to connect to."""

    host: str
    port: int
    addresses: tuple  # ((family, sockaddr), ...) in the resolver's order


def check_destination(url: str, allow_private: bool) -> Destination:
    """Resolve the URL's host once and check every address; raise WebhookRefused."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefused("the URL's port is not a number") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("only http(s) URLs with a host")
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookRefused(f"cannot resolve {parts.hostname}") from exc
    addresses = tuple(dict.fromkeys((family, sockaddr) for family, _, _, _, sockaddr in infos))
    if not addresses:
        raise WebhookRefused(f"cannot resolve {parts.hostname}")
    if not allow_private:
        for _family, sockaddr in addresses:
            # A scoped IPv6 address comes as "fe80::1%eth0"; the scope is no part of the check.
            if not is_public(ipaddress.ip_address(sockaddr[0].split("%")[0])):
                raise WebhookRefused(f"{parts.hostname} resolves to a non-public address")
    return Destination(host=parts.hostname, port=port, addresses=addresses)


def _connect(family: int, sockaddr: tuple, timeout: float | None) -> socket.socket:
    """A TCP connection to this exact socket address (no name lookup)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


def _connect_to_checked(destination: Destination, address, timeout=None, source_address=None):
    """Stands in for socket.create_connection inside http.client: whatever host
    http.client asks for, connect only to the addresses that were checked."""
    error: OSError | None = None
    for family, sockaddr in destination.addresses:
        try:
            return _connect(family, sockaddr, timeout)
        except OSError as exc:
            error = exc
    raise error or OSError(f"no address to connect to for {destination.host}")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, destination: Destination, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(_connect_to_checked, destination)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    # HTTPSConnection.connect() wraps the pinned socket with
    # server_hostname=self.host: SNI and certificate checks use the URL's name.
    def __init__(self, *args, destination: Destination, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(_connect_to_checked, destination)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, destination: Destination):
        super().__init__()
        self.destination = destination

    def http_open(self, req):
        return self.do_open(functools.partial(_PinnedHTTPConnection, destination=self.destination), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, destination: Destination):
        super().__init__(context=tls_context())
        self.destination = destination

    def https_open(self, req):
        return self.do_open(
            functools.partial(_PinnedHTTPSConnection, destination=self.destination),
            req,
            context=self._context,
        )


def tls_context() -> ssl.SSLContext:
    """Certificates are verified against the URL's host name (the default context)."""
    return ssl.create_default_context()


def post_webhook(notification: Notification) -> None:
    hook = TeamWebhook.objects.filter(pk=notification.params.get("webhook")).first()
    if hook is None or not hook.is_active:
        return  # removed or switched off since: nothing to deliver
    destination = check_destination(hook.url, hook.allow_private)
    body = json.dumps(notification.params.get("payload", {}), ensure_ascii=False, sort_keys=True).encode()
    request = urllib.request.Request(
        hook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "revops-webhook/1",
            "X-Revops-Signature": signature(hook.secret, body),
            "X-Revops-Delivery": notification.dedupe_key,
        },
    )
    # Redirects are not followed to a new host silently: urllib follows them,
    # so the checked host could change; refuse any redirect instead. No
    # ProxyHandler from the environment: the connection goes to the checked address.
    opener = urllib.request.OpenerDirector()
    for handler in (
        _PinnedHTTPHandler(destination),
        _PinnedHTTPSHandler(destination),
        _NoRedirect(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
        if response.status >= 300:
            raise WebhookRefused(f"HTTP {response.status}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise WebhookRefused(f"redirect {code} refused")
