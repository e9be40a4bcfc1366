from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from leads.importer import ImportFileError, import_file
from leads.models import Source


class Command(BaseCommand):
    help = (
        "Import leads from a CSV or XLSX file: all rows or none. Rows are validated like the intake API; "
        "errors are printed with their row numbers (the header is row 1)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv (UTF-8 or cp1251, ',' or ';') or .xlsx file")
        parser.add_argument(
            "--historical",
            action="store_true",
            help="past leads: keep created_at, stage, owner, rejection_reason, first_contact_at; "
            "no distribution and no SLA clock",
        )
        parser.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
        parser.add_argument("--source", default="", help="source (code or name) for rows without one")

    def handle(self, *args, file, historical, dry_run, source, **options):
        default_source = _source(source) if source else None
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")

        def progress(done, total):
            if total > 1000:
                self.stderr.write(f"\r{done}/{total}", ending="\n" if done == total else "")

        try:
            plan, result = import_file(
                path, source=default_source, historical=historical, dry_run=dry_run, progress=progress
            )
        except ImportFileError as exc:
            raise CommandError(str(exc.message)) from None
        for error in plan.errors:
            self.stdout.write(str(error))
        summary = f"rows={plan.total} valid={plan.valid_count} invalid={plan.invalid_count}"
        if plan.errors:
            raise CommandError(f"{summary}; nothing imported: fix the rows above and run again.")
        if result is None:
            self.stdout.write(f"{summary}; dry run, nothing imported.")
            return
        self.stdout.write(f"{summary} created={result.created} repeats={result.repeats}")


def _source(value: str) -> Source:
    matches = list(Source.objects.filter(Q(code=value) | Q(name__iexact=value)))
    if len(matches) != 1:
        known = ", ".join(Source.objects.order_by("code").values_list("code", flat=True)) or "none"
        problem = "matches several sources; use the code" if matches else "is not a source"
        raise CommandError(f"{value!r} {problem}. Known codes: {known}.")
    return matches[0]
