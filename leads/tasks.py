from celery import shared_task

from leads.assignment import assign_waiting


@shared_task(name="leads.assign_waiting", ignore_result=True)
def assign_waiting_leads():
    return assign_waiting()
