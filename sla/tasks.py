"""Celery tasks: one-line shims over plain functions (tested directly).
All are idempotent: running one twice, or two at once, does no harm."""

from celery import shared_task

from sla.delivery import deliver_due
from sla.sweep import sweep


@shared_task(name="sla.sweep", ignore_result=True)
def sla_sweep():
    return str(sweep())


@shared_task(name="sla.deliver_notifications", ignore_result=True)
def deliver_notifications():
    return deliver_due()
