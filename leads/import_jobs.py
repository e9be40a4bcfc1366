"""Import jobs: a file checked and imported by a Celery worker, whatever it imports.

An `ImportJob` row carries the file, the state, the counts, the per-row errors
and the progress, so any web process can show any job and a worker restart
loses nothing that was committed. This module is the machinery every kind
shares; what a kind does with its file is a function named in RUNNERS
(`leads.importer.run_job` for leads, `leads.spend_import.run_job` for spend).

- **Once.** `run(job_id)` claims the job with a conditional update of its
  state (`pending` → `checking`) and a claim token; every later state change
  is conditional on that token. A task delivered twice finds the job taken and
  does nothing; a job declared lost (`STALE_SECONDS` without a word) cannot be
  finished by a worker that wakes up late.
- **`done` with the rows.** The kind's runner calls `JobRun.finish` inside the
  transaction that writes the rows: if the job is no longer this run's, it
  raises and the rows roll back.
- **Progress outside the transaction.** While the rows' transaction is open,
  progress must reach other connections before the commit. On PostgreSQL it is
  written through a second connection in autocommit. SQLite has one writer at
  a time and the import holds the write lock until it commits, so there the
  progress goes to a small file next to the database (`make run`: the web and
  the worker share the disk). Progress is a courtesy: if it cannot be
  written, the import goes on.
"""

import contextlib
import datetime as dt
import logging
import os
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from leads.models import ImportJob

logger = logging.getLogger(__name__)

State = ImportJob.State

RUNNERS = {
    ImportJob.Kind.LEADS: "leads.importer.run_job",
    ImportJob.Kind.SPEND: "leads.spend_import.run_job",
}
STALE_SECONDS = 15 * 60  # a running job silent this long has lost its worker
ERRORS_KEPT = 1000  # per-row errors stored on a job (the count of the rest is kept)
PREVIEW_ROWS = 20
FILE_LIFETIME = 24 * 3600  # a checked file waits this long for its confirmation


class JobLost(Exception):
    """The job is no longer this run's (declared lost, or claimed by another)."""


def create(
    kind: str,
    *,
    user,
    filename: str,
    content: bytes,
    options: dict | None = None,
    dry_run: bool = True,
    historical: bool = False,
    language: str = "",
) -> ImportJob:
    return ImportJob.objects.create(
        kind=kind,
        created_by=user,
        filename=filename[:200],
        content=content,
        options=options or {},
        dry_run=dry_run,
        historical=historical,
        language=language or translation.get_language() or settings.LANGUAGE_CODE,
    )


def confirm(job: ImportJob, user) -> bool:
    """The uploader's confirmation turns a clean checked job into an import, once:
    a conditional update, so a second click (or a second tab) changes nothing and
    answers False."""
    return bool(
        ImportJob.objects.filter(
            pk=job.pk,
            created_by=user,
            state=State.READY,
            dry_run=True,
            invalid=0,
            total__gt=0,
            content__isnull=False,
        ).update(state=State.PENDING, dry_run=False, updated_at=timezone.now())
    )


def forget_old_files() -> int:
    """Drop the files of checked jobs nobody confirmed within FILE_LIFETIME
    (they hold personal data); such a job can no longer be imported."""
    cutoff = timezone.now() - dt.timedelta(seconds=FILE_LIFETIME)
    return ImportJob.objects.filter(state=State.READY, created_at__lt=cutoff, content__isnull=False).update(
        content=None
    )


def run(job_id: int, *, listener=None) -> bool:
    """Claim the job and run it to its end (ready, done or failed). False when
    it was not waiting (taken by another delivery of the task, or finished).
    `listener(state, done, total)`, if given, hears each progress report (the
    command prints them)."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, state=State.PENDING).update(
        state=State.CHECKING,
        claim=token,
        started_at=now,
        updated_at=now,
        progress_done=0,
        progress_total=0,
        message="",
    )
    if not claimed:
        logger.info("Import job %s is not waiting; nothing to do", job_id)
        return False
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    job_run = JobRun(job, token, listener)
    try:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            runner = import_string(RUNNERS[job.kind])
            try:
                runner(job_run)
            except JobLost:
                logger.warning(
                    "Import job %s was declared lost while it ran; its rows were rolled back", job_id
                )
            except Exception as exc:
                # The frames, not the message: a database error may quote a phone or an email.
                trace = "".join(traceback.format_tb(exc.__traceback__))
                logger.error("Import job %s failed: %s\n%s", job_id, type(exc).__name__, trace)
                job_run.fail(_("The import failed; nothing was imported."))
    finally:
        job_run.close()
    return True


@dataclass
class JobRun:
    """One claimed run of a job: the state changes a runner makes."""

    job: ImportJob
    token: str
    listener: object = None
    _side: object = field(default=None, repr=False)

    def _update(self, states, **values) -> int:
        values.setdefault("updated_at", timezone.now())
        return ImportJob.objects.filter(pk=self.job.pk, claim=self.token, state__in=states).update(**values)

    # --- checking (no transaction open: plain autocommit updates) ---

    def checking(self, done: int, total: int) -> None:
        if self.listener:
            self.listener(State.CHECKING, done, total)
        try:
            self._update([State.CHECKING], progress_done=done, progress_total=total)
        except DatabaseError as exc:
            logger.warning("Import job %s: progress not stored: %s", self.job.pk, type(exc).__name__)

    def checked(self, *, total: int, ok: int, errors: list[dict], preview: dict) -> None:
        """The file is read: a dry run is ready for its preview; an import with
        bad rows fails with them (nothing is written)."""
        invalid = len({e["row"] for e in errors})
        values = {
            "total": total,
            "ok": ok,
            "invalid": invalid,
            "errors": errors[:ERRORS_KEPT],
            "errors_hidden": max(len(errors) - ERRORS_KEPT, 0),
            "preview": preview,
            "progress_done": total,
            "progress_total": total,
        }
        if self.job.dry_run:
            values["state"] = State.READY
        elif invalid:
            values.update(state=State.FAILED, finished_at=timezone.now(), content=None)
        else:
            values["state"] = State.IMPORTING
            values["progress_done"] = 0
            values["progress_total"] = ok
        if not self._update([State.CHECKING], **values):
            raise JobLost
        for name, value in values.items():
            setattr(self.job, name, value)

    def fail(self, message) -> None:
        self._update(
            [State.CHECKING, State.IMPORTING],
            state=State.FAILED,
            message=str(message),
            finished_at=timezone.now(),
            content=None,
        )

    # --- importing (inside the rows' transaction) ---

    def importing(self, done: int, total: int) -> None:
        """Progress of the write: visible to the page before the commit."""
        if self.listener:
            self.listener(State.IMPORTING, done, total)
        if self._side is None:
            self._side = _side_channel(self.job.pk, self.token)
        self._side.write(done, total)

    def finish(self, *, created: int, matched: int) -> None:
        """Mark the job done; call it inside the transaction that writes the rows."""
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("finish() belongs inside the rows' transaction")
        now = timezone.now()
        done = self._update(
            [State.IMPORTING],
            state=State.DONE,
            created=created,
            matched=matched,
            progress_done=self.job.ok,
            progress_total=self.job.ok,
            finished_at=now,
            content=None,
        )
        if not done:
            raise JobLost

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
        with contextlib.suppress(OSError):
            _sidecar(self.job.pk).unlink(missing_ok=True)


# --- progress while the rows' transaction is open --------------------------------------------


def imports_dir() -> Path:
    return Path(settings.DATA_DIR) / "imports"


def _sidecar(job_id: int) -> Path:
    return imports_dir() / f"job-{job_id}.progress"


def _side_channel(job_id: int, token: str):
    if connections["default"].vendor == "sqlite":
        return _FileProgress(job_id)
    return _ConnectionProgress(job_id, token)


class _ConnectionProgress:
    """A second connection to the database, in autocommit: its updates of the
    job's progress commit at once, while the import's own transaction is open.
    The import's transaction does not touch the job's row before its last
    progress report (finish() comes after), so the two never wait on each other;
    a lock timeout guards against a caller that breaks that rule."""

    def __init__(self, job_id: int, token: str):
        self.job_id, self.token = job_id, token
        self.connection = None

    def write(self, done: int, total: int) -> None:
        try:
            if self.connection is None:
                self.connection = connections.create_connection("default")
                with self.connection.cursor() as cursor:
                    if self.connection.vendor == "postgresql":
                        cursor.execute("SET lock_timeout = '2s'")
            table = self.connection.ops.quote_name(ImportJob._meta.db_table)
            with self.connection.cursor() as cursor:
                # Raw SQL: the ORM's queries go through the default connection,
                # which is inside the import's transaction. `table` is our own name.
                cursor.execute(
                    f"UPDATE {table} SET progress_done = %s, progress_total = %s, updated_at = %s "
                    "WHERE id = %s AND claim = %s AND state = %s",
                    [done, total, timezone.now(), self.job_id, self.token, State.IMPORTING],
                )
        except DatabaseError as exc:
            logger.warning("Import job %s: progress not stored: %s", self.job_id, type(exc).__name__)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


class _FileProgress:
    """SQLite: `done total unix-time` in a small file, replaced atomically."""

    def __init__(self, job_id: int):
        self.path = _sidecar(job_id)

    def write(self, done: int, total: int) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(f"{done} {total} {time.time()}")
            os.replace(tmp, self.path)
        except OSError as exc:
            logger.warning("Import progress not stored: %s", type(exc).__name__)

    def close(self) -> None:
        pass


# --- reading a job's status (the page) -------------------------------------------------------


@dataclass
class Status:
    state: str
    done: int
    total: int
    message: str = ""

    @property
    def active(self) -> bool:
        return self.state in ImportJob.ACTIVE_STATES


def status(job: ImportJob) -> Status:
    """What the page shows. A running job silent for STALE_SECONDS is declared
    failed (conditionally: its worker, should it wake, can no longer finish it)."""
    done, total, heard = job.progress_done, job.progress_total, job.updated_at
    if job.state == State.IMPORTING:
        side = _sidecar(job.pk)
        try:
            done_text, total_text, at = side.read_text().split()
            done, total = int(done_text), int(total_text)
            heard = max(heard, dt.datetime.fromtimestamp(float(at), tz=dt.UTC))
        except (OSError, ValueError):
            pass
    if (
        job.state in (State.CHECKING, State.IMPORTING)
        and (timezone.now() - heard).total_seconds() > STALE_SECONDS
    ):
        message = str(_("The import stopped; nothing was imported."))
        try:
            ImportJob.objects.filter(pk=job.pk, state=job.state, claim=job.claim).update(
                state=State.FAILED, message=message, finished_at=timezone.now(), content=None
            )
        except DatabaseError as exc:  # SQLite: a hung worker may still hold the write lock
            logger.warning("Import job %s: could not be marked failed: %s", job.pk, type(exc).__name__)
        return Status(State.FAILED, done, total, message)
    return Status(job.state, done, total, job.message)
