# Import the Celery app when Django starts so @shared_task binds to it.
from revops.celery import app as celery_app

__all__ = ("celery_app",)
