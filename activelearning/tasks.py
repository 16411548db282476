"""Huey task wrappers; the work itself is in jobs.py, callable without a queue."""
from huey.contrib.djhuey import db_task

from . import jobs


@db_task(retries=1, retry_delay=5)
def run_round_task(job_id: int) -> None:
    jobs.run_round(job_id)
