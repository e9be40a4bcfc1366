"""Writing notifications to the outbox. Called inside the transaction of the
event, so a notification exists exactly when its event does; delivery is the
workers' business (sla.delivery), never the caller's."""

from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from sla.models import DeliveryState, Notification, NotificationChannel

DEFAULT_CHANNELS = (NotificationChannel.IN_APP, NotificationChannel.EMAIL)


def build(
    recipients: Iterable,
    kind: str,
    *,
    lead=None,
    lead_id=None,
    event: str,
    params=None,
    channels=DEFAULT_CHANNELS,
    hold=None,
):
    """Unsaved outbox rows for `kind` to each recipient on each channel. `event`
    names the occurrence (e.g. "request:42"); with the recipient and channel it
    forms the unique dedupe key, so one event never notifies anyone twice. `hold`
    (a timedelta) delays delivery of the sent channels, for an event that may
    still be taken back (`withdraw`)."""
    now = timezone.now()
    rows, seen = [], set()
    for user in recipients:
        if user is None or user.pk in seen or not user.is_active:
            continue
        seen.add(user.pk)
        for channel in channels:
            if channel == NotificationChannel.EMAIL and not user.email:
                continue
            in_app = channel == NotificationChannel.IN_APP
            rows.append(
                Notification(
                    recipient=user,
                    channel=channel,
                    kind=kind,
                    lead_id=lead.pk if lead is not None else lead_id,
                    params=params or {},
                    dedupe_key=f"{kind}:{event}:{user.pk}:{channel}",
                    # Writing an in-app row is its delivery: the page shows it.
                    state=DeliveryState.DELIVERED if in_app else DeliveryState.PENDING,
                    delivered_at=now if in_app else None,
                    created_at=now,
                    next_attempt_at=now + hold if hold and not in_app else now,
                )
            )
    return rows


def save(rows: list[Notification]) -> None:
    # A row whose dedupe key exists is the same notification again: skipped.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)


def notify(recipients: Iterable, kind: str, **kwargs) -> None:
    save(build(recipients, kind, **kwargs))


def withdraw(kind: str, event: str, lead=None) -> int:
    """An event was taken back (the card's Undo): its messages not sent yet go, and
    so do the in-app ones, which would tell of something that did not stay true."""
    rows = Notification.objects.filter(kind=kind, dedupe_key__startswith=f"{kind}:{event}:")
    if lead is not None:
        rows = rows.filter(lead=lead)
    sent = Q(state=DeliveryState.DELIVERED) & ~Q(channel=NotificationChannel.IN_APP)
    deleted, _ = rows.exclude(sent).delete()
    return deleted
