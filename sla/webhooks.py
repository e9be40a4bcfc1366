"""Outgoing webhooks: queued as outbox rows in the event's transaction, POSTed
by the delivery worker with an HMAC-SHA256 signature, retried with backoff.
Private, loopback and link-local addresses are refused unless the webhook
explicitly allows them (so a webhook cannot be used to probe the internal
network)."""

import hashlib
import hmac
import ipaddress
import json
import socket
import urllib.request
from urllib.parse import urlsplit

from django.utils import timezone

from sla.models import DeliveryState, Notification, NotificationChannel, NotificationKind, TeamWebhook

TIMEOUT_SECONDS = 5
KIND_FOR_EVENT = {"sla.breach": NotificationKind.SLA_BREACH, "lead.nurtured": NotificationKind.NURTURED}


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


def check_destination(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("only http(s) URLs with a host")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise WebhookRefused(f"cannot resolve {parts.hostname}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise WebhookRefused(f"{parts.hostname} resolves to a non-public address")


def post_webhook(notification: Notification) -> None:
    hook = TeamWebhook.objects.filter(pk=notification.params.get("webhook")).first()
    if hook is None or not hook.is_active:
        return  # removed or switched off since: nothing to deliver
    check_destination(hook.url, hook.allow_private)
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
    # so the checked host could change; refuse any redirect instead.
    opener = urllib.request.build_opener(_NoRedirect)
    with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
        if response.status >= 300:
            raise WebhookRefused(f"HTTP {response.status}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise WebhookRefused(f"redirect {code} refused")
