from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from leads.intake_keys import create_key
from leads.models import Source


class Command(BaseCommand):
    help = "Create a secret intake key for a source (by code or name). The key is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("source", help="source code or name")
        parser.add_argument("--name", default="", help="who will use the key, e.g. 'site backend'")
        parser.add_argument(
            "--rate-limit", type=int, default=120, help="requests per minute; 0 for unlimited (default 120)"
        )

    def handle(self, *args, source, name, rate_limit, **options):
        matches = list(Source.objects.filter(Q(code=source) | Q(name__iexact=source)))
        if not matches:
            known = ", ".join(Source.objects.order_by("code").values_list("code", flat=True)) or "none"
            raise CommandError(f"No source {source!r}. Known codes: {known}.")
        if len(matches) > 1:
            raise CommandError(f"{source!r} matches several sources; use the code.")
        if rate_limit < 0:
            raise CommandError("--rate-limit must be 0 (unlimited) or positive.")
        key, raw = create_key(matches[0], name=name, rate_limit_per_minute=rate_limit or None)
        self.stderr.write(
            f"Intake key {key.prefix}… for {matches[0].name} ({matches[0].code}); store it now, it is not shown again."
        )
        self.stdout.write(raw)
