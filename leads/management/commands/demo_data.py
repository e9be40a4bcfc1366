"""`manage.py demo_data`: a believable Russian B2B company to click around in.

The generator lives in leads.demo (it takes every lead in through the product's
intake and tells its story through the product's actions); this command only
parses arguments and reports.

It refuses to run on a database that holds real leads — any lead none of whose
requests carries the demo's mark (see leads.demo.company.DEMO_MARK) — unless
given --force; even then it never touches them.
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
        "generated when there are no demo leads (or with --reset, which replaces them). "
        "Refuses on a database with real leads unless --force."
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
            help="Do nothing if the demo users already exist or the database holds real leads (for make run).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo leads (and their contacts) first, then generate anew.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though the database holds real (non-demo) leads; they are left as they are.",
        )
        parser.add_argument("--allow-production", action="store_true", help="Run even when PRODUCTION is on.")

    def handle(self, *args, leads, seed, today, if_empty, reset, force, allow_production, **options):
        if settings.PRODUCTION and not allow_production:
            raise CommandError(
                "Refusing to write demo data in production (pass --allow-production to insist)."
            )
        if leads < 0:
            raise CommandError("--leads must not be negative.")
        if if_empty and demo.demo_users_exist():
            self.stdout.write("Demo users already exist; demo data left as it is.")
            return
        if if_empty and demo.real_leads().exists():
            # `make run` on a database that already holds real work: start, add nothing.
            self.stdout.write("The database holds real leads; no demo data added.")
            return

        try:
            result = demo.run(
                leads=leads, seed=seed, today=today or timezone.localdate(), reset=reset, force=force
            )
        except demo.RealLeadsPresent as error:
            raise CommandError(
                f"The database holds {error.count} leads that are not demo leads (none of their requests "
                "carries the demo's mark); refusing to add demo data to real data. Pass --force to add it "
                "anyway: real leads are never changed or deleted."
            ) from None
        self.stdout.write(result.message)
        s = result.summary
        statuses = ", ".join(f"{kind} {n}" for kind, n in s["by_status"].items())
        self.stdout.write(f"Leads: {s['leads']} ({statuses}); contacts: {s['contacts']}")
        funnel = ", ".join(f"{step} {n}" for step, n in s["funnel"].items())
        self.stdout.write(f"Funnel: leads {s['leads']}, {funnel}")
        self.stdout.write(
            f"Deals: won {s['deals_won']}, lost at the proposal {s['deals_lost']}; demo users: {s['users']}"
        )
        timers = ", ".join(f"{state} {n}" for state, n in s["timers"].items())
        self.stdout.write(f"First-contact timers: {timers}; breaches: {s['breaches']}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo logins (password «{demo.DEMO_PASSWORD}»): {', '.join(demo.DEMO_USERNAMES)}"
            )
        )
