from django.core.management.base import BaseCommand

from sla.delivery import deliver_due
from sla.sweep import sweep


class Command(BaseCommand):
    help = (
        "Run one pass of every due-time sweep (SLA breaches, reminders, escalations, "
        "nurture returns); prints what it did."
    )

    def add_arguments(self, parser):
        parser.add_argument("--deliver", action="store_true", help="also deliver due notifications")

    def handle(self, *args, deliver=False, **options):
        self.stdout.write(str(sweep()))
        if deliver:
            self.stdout.write(" ".join(f"{k}={v}" for k, v in deliver_due().items()))
