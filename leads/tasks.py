from celery import shared_task

from leads import import_jobs
from leads.assignment import assign_waiting

# An import of MAX_ROWS rows costs minutes (take_lead per row), far beyond the
# default task limit (CELERY_TASK_TIME_LIMIT) meant for the short periodic tasks.
IMPORT_SOFT_TIME_LIMIT = 60 * 60
IMPORT_TIME_LIMIT = IMPORT_SOFT_TIME_LIMIT + 300


@shared_task(name="leads.assign_waiting", ignore_result=True)
def assign_waiting_leads():
    return assign_waiting()


@shared_task(
    name="leads.run_import_job",
    ignore_result=True,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    time_limit=IMPORT_TIME_LIMIT,
)
def run_import_job(job_id: int) -> bool:
    """Check or import one ImportJob. Delivered twice (acks_late, a visibility
    timeout shorter than a long import), it runs once: the job is claimed."""
    return import_jobs.run(job_id)
