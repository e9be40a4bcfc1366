from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from leads import import_jobs, importer
from leads.models import ImportJob, Source


class Command(BaseCommand):
    help = (
        "Import leads from a CSV or XLSX file: all rows or none. Rows are validated like the intake API; "
        "errors are printed with their row numbers (the header is row 1). The command runs the same "
        "import job as the web page, here and now, with an administrator's rights (whoever can run it "
        "runs the server): historical imports, and any active sales rep of a team as an owner."
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
        if path.stat().st_size > importer.MAX_FILE_BYTES:
            raise CommandError(str(importer._too_large()))
        job = import_jobs.create(
            ImportJob.Kind.LEADS,
            user=None,  # the command: an administrator's scope (leads.importer.Scope)
            filename=path.name,
            content=path.read_bytes(),
            options={"source": default_source.pk if default_source else None},
            dry_run=dry_run,
            historical=historical,
        )

        def progress(state, done, total):
            if total > 1000:
                self.stderr.write(f"\r{state} {done}/{total}", ending="\n" if done == total else "")

        import_jobs.run(job.pk, listener=progress)
        # Nobody confirms a command's dry run later: its copy of the file goes now.
        ImportJob.objects.filter(pk=job.pk).update(content=None)
        job.refresh_from_db()
        if job.state == ImportJob.State.FAILED and not job.errors:
            raise CommandError(job.message)
        for error in job.errors:
            where = f"row {error['row']}, {error['field']}" if error["field"] else f"row {error['row']}"
            self.stdout.write(f"{where}: {error['message']}")
        if job.errors_hidden:
            self.stdout.write(f"… and {job.errors_hidden} more errors")
        summary = f"rows={job.total} valid={job.ok} invalid={job.invalid}"
        if job.invalid:
            raise CommandError(f"{summary}; nothing imported: fix the rows above and run again.")
        if job.state == ImportJob.State.READY:
            self.stdout.write(f"{summary}; dry run, nothing imported.")
            return
        self.stdout.write(f"{summary} created={job.created} repeats={job.matched}")


def _source(value: str) -> Source:
    matches = list(Source.objects.filter(Q(code=value) | Q(name__iexact=value)))
    if len(matches) != 1:
        known = ", ".join(Source.objects.order_by("code").values_list("code", flat=True)) or "none"
        problem = "matches several sources; use the code" if matches else "is not a source"
        raise CommandError(f"{value!r} {problem}. Known codes: {known}.")
    return matches[0]
