"""Imports as Celery jobs, for real: a worker process (PostgreSQL, a private
Redis) takes an ImportJob from the broker, reports progress that this process
sees while the rows' transaction is still open, and imports the file once even
when the task is delivered twice."""

import pytest

from config.celery import app
from leads import import_jobs
from leads.models import ImportJob, Lead
from tests.factories import SourceFactory
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

ROWS = 400  # a couple of seconds of take_lead: long enough to see it move


def send(redis_url: str, job_id: int) -> None:
    # To the test's private broker, not the one in this process's settings.
    with app.connection_for_write(redis_url) as connection:
        app.send_task("leads.run_import_job", args=[job_id], connection=connection)


def test_a_worker_imports_a_job_delivered_twice_once_and_its_progress_moves(worker, redis_server):
    source = SourceFactory(code="exhibition")
    content = ("phone\n" + "".join(f"+7916{i:07d}\n" for i in range(ROWS))).encode()
    job = import_jobs.create(
        ImportJob.Kind.LEADS,
        user=None,
        filename="leads.csv",
        content=content,
        options={"source": source.pk},
        dry_run=False,
        language="en",
    )
    send(redis_server.url, job.pk)
    send(redis_server.url, job.pk)  # delivered twice

    seen = []

    def moving():
        current = ImportJob.objects.get(pk=job.pk)
        seen.append((current.state, current.progress_done, Lead.objects.count()))
        return current.state in (ImportJob.State.DONE, ImportJob.State.FAILED)

    try:
        wait_for(moving, timeout=120, interval=0.1, message="the import job to end")
    except AssertionError:
        raise AssertionError(worker.tail()) from None
    job.refresh_from_db()
    assert (job.state, job.created, job.total) == (ImportJob.State.DONE, ROWS, ROWS), worker.tail()
    assert Lead.objects.count() == ROWS
    # Progress reached this connection while no lead was committed yet.
    assert any(
        state == ImportJob.State.IMPORTING and 0 < done < ROWS and leads == 0 for state, done, leads in seen
    ), seen
