"""`manage.py demo_data`: a believable Russian B2B company to click around in.

The generator lives in leads.demo; this command only parses arguments and reports.
"""

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from leads import demo


class Command(BaseCommand):
    help = (
        "Create the demo company: teams with their calendars and routing, users (password «demo») with "
        "shifts, sources, campaigns, spend and a year of leads through the funnel and the SLA clock. "
        "Idempotent: reference data and users are upserted, leads are only "
        "generated when there are none (or with --reset)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--leads", type=int, default=demo.DEFAULT_LEADS, help="How many leads (default 3000)."
        )
        parser.add_argument("--seed", type=int, default=1, help="Random seed; same seed and date, same data.")
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            default=None,
            help=(
                "YYYY-MM-DD; the demo year ends on this day, at the current moment when it is "
                "today (default: today in TIME_ZONE)."
            ),
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if the demo users already exist (for make run).",
        )
        parser.add_argument(
            "--reset", action="store_true", help="Delete all leads and contacts first, then generate anew."
        )
        parser.add_argument("--allow-production", action="store_true", help="Run even when PRODUCTION is on.")

    def handle(self, *args, leads, seed, today, if_empty, reset, allow_production, **options):
        if settings.PRODUCTION and not allow_production:
            raise CommandError(
                "Refusing to write demo data in production (pass --allow-production to insist)."
            )
        if leads < 0:
            raise CommandError("--leads must not be negative.")
        if if_empty and demo.demo_users_exist():
            self.stdout.write("Demo users already exist; demo data left as it is.")
            return

        result = demo.run(leads=leads, seed=seed, today=today or timezone.localdate(), reset=reset)
        self.stdout.write(result.message)
        s = result.summary
        statuses = ", ".join(f"{kind} {n}" for kind, n in s["by_status"].items())
        self.stdout.write(f"Leads: {s['leads']} ({statuses}); contacts: {s['contacts']}")
        self.stdout.write(f"Deals: won {s['deals_won']}, lost {s['deals_lost']}; demo users: {s['users']}")
        timers = ", ".join(f"{state} {n}" for state, n in s["timers"].items())
        self.stdout.write(f"First-contact timers: {timers}; breaches: {s['breaches']}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo logins (password «{demo.DEMO_PASSWORD}»): {', '.join(demo.DEMO_USERNAMES)}"
            )
        )
