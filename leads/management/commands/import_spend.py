from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leads import import_jobs, importer
from leads.models import ImportJob


class Command(BaseCommand):
    help = (
        "Import marketing spend from a CSV or XLSX file with the columns month (YYYY-MM or a date), "
        "source (code or name), campaign (code or name, optional) and amount: all rows or none. "
        "A row for a campaign (or a source without campaign) and month that already has spend "
        "replaces its amount. The same import job as the /reports/spend/ page runs here and now."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv (UTF-8 or cp1251, ',' or ';') or .xlsx file")
        parser.add_argument("--dry-run", action="store_true", help="check and report; write nothing")

    def handle(self, *args, file, dry_run, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        if path.stat().st_size > importer.MAX_FILE_BYTES:
            raise CommandError(str(importer._too_large()))
        job = import_jobs.create(
            ImportJob.Kind.SPEND, user=None, filename=path.name, content=path.read_bytes(), dry_run=dry_run
        )
        import_jobs.run(job.pk)
        # Nobody confirms a command's dry run later: its copy of the file goes now.
        ImportJob.objects.filter(pk=job.pk).update(content=None)
        job.refresh_from_db()
        if job.state == ImportJob.State.FAILED and not job.errors:
            raise CommandError(job.message)
        for error in job.errors:
            where = f"row {error['row']}, {error['field']}" if error["field"] else f"row {error['row']}"
            self.stdout.write(f"{where}: {error['message']}")
        updates = job.preview.get("updates", 0)
        summary = f"rows={job.total} valid={job.ok} invalid={job.invalid}"
        if job.invalid:
            raise CommandError(f"{summary}; nothing imported: fix the rows above and run again.")
        if job.state == ImportJob.State.READY:
            self.stdout.write(f"{summary} would_update={updates}; dry run, nothing imported.")
            return
        self.stdout.write(f"{summary} created={job.created} updated={job.matched}")
