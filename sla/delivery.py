"""Delivering the outbox. Each pending row is claimed by one worker with a
conditional update (`claimed_until`), sent, and marked; a failure is stored on
the row and retried later with backoff, up to a limit. A worker killed between
claiming and marking leaves a claim that expires, so the row is taken again —
email delivery is therefore at-least-once, and each message carries a stable
Message-ID (from the row's dedupe key) so mail systems can drop a repeat."""

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.utils import timezone

from sla.messages import link, title
from sla.models import DeliveryState, Notification, NotificationChannel

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 120
MAX_ATTEMPTS = 8
BACKOFF_SECONDS = (30, 60, 120, 300, 900, 1800, 3600)


def claim(pk: int, now: dt.datetime) -> bool:
    """Take the row for this worker; False if another worker has it or it is done."""
    return (
        Notification.objects.filter(pk=pk, state=DeliveryState.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + dt.timedelta(seconds=CLAIM_SECONDS))
        == 1
    )


def send(notification: Notification) -> None:
    if notification.channel == NotificationChannel.EMAIL:
        _send_email(notification)
    elif notification.channel == NotificationChannel.WEBHOOK:
        from sla.webhooks import post_webhook

        post_webhook(notification)
    # In-app rows are delivered by being written; nothing to send.


def _send_email(notification: Notification) -> None:
    recipient = notification.recipient
    language = recipient.language or settings.LANGUAGE_CODE
    subject = title(notification, language)
    url = link(notification)
    message = EmailMessage(
        subject=f"[revops] {subject}",
        body=f"{subject}\n\n{url}\n",
        to=[recipient.email],
        headers={"Message-ID": f"<{notification.dedupe_key.replace(':', '.')}@revops>"},
    )
    message.send(fail_silently=False)


def deliver_due(limit: int = 200, now: dt.datetime | None = None) -> dict:
    """One pass over the due rows. Returns counts for logs and tests."""
    now = now or timezone.now()
    counts = {"delivered": 0, "retry": 0, "failed": 0, "skipped": 0}
    due = list(
        Notification.objects.due(now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        if not claim(pk, now):
            counts["skipped"] += 1
            continue
        notification = Notification.objects.select_related("recipient").get(pk=pk)
        try:
            send(notification)
        except Exception as exc:  # any failure of a channel is stored and retried
            attempts = notification.attempts + 1
            final = attempts >= MAX_ATTEMPTS
            delay = BACKOFF_SECONDS[min(attempts - 1, len(BACKOFF_SECONDS) - 1)]
            Notification.objects.filter(pk=pk).update(
                attempts=F("attempts") + 1,
                state=DeliveryState.FAILED if final else DeliveryState.PENDING,
                next_attempt_at=now + dt.timedelta(seconds=delay),
                claimed_until=None,
                last_error=f"{exc.__class__.__name__}: {exc}"[:500],
            )
            logger.warning(
                "notification %s (%s) failed, attempt %s: %s",
                pk,
                notification.channel,
                attempts,
                exc.__class__.__name__,
            )
            counts["failed" if final else "retry"] += 1
            continue
        Notification.objects.filter(pk=pk).update(
            attempts=F("attempts") + 1,
            state=DeliveryState.DELIVERED,
            delivered_at=timezone.now(),
            claimed_until=None,
            last_error="",
        )
        counts["delivered"] += 1
    return counts
