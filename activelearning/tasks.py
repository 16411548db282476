"""Huey task wrappers; the work itself is in jobs.py, callable without a queue.

Every process registers these tasks (the web process enqueues them), but only workers
run them: jobs.py, and the scikit-learn and SciPy a round needs, are imported by the
first task that runs, so the web process never loads them."""
from functools import cache

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@cache
def _jobs():
    """jobs.py, with BLAS single-threaded in the process that runs rounds (process-wide).
    A round's BLAS work is level-1 operations on one coefficient vector (logistic
    regression's L-BFGS), far too small to share between threads; with OpenBLAS's default
    of one thread per core, every such call waits for threads that compete with the web
    server and the database for the same cores. On the 2-core bench machine under load a
    19k-element dot product took 2.7 ms instead of 4 us, and a fit on 200 labels 0.4-1.4 s
    instead of 0.02-0.04 s. The limit reaches only the BLAS libraries already loaded, and
    SciPy brings its own with jobs.py: so it is set once, after that import."""
    from threadpoolctl import threadpool_limits

    from . import jobs

    threadpool_limits(limits=1, user_api="blas")
    return jobs


@db_task(retries=1, retry_delay=5)
def run_round_task(job_id: int) -> None:
    _jobs().run_round(job_id)


@db_task(retries=0)
def run_simulation_task(simulation_id: int) -> None:
    _jobs().run_simulation(simulation_id)


@db_periodic_task(crontab(minute="*"))
def scheduled_rounds_task() -> None:
    """Once a minute: rounds for projects that retrain on a schedule."""
    from .services import request_scheduled_rounds

    request_scheduled_rounds()


@db_periodic_task(crontab(minute="*"))
def recover_jobs_task() -> None:
    """Once a minute, for separate workers (`run_huey`): a round whose worker died is
    queued again, and a job whose queue message was lost (a Redis restart) is sent again.
    The embedded server does this as it starts (resume_queued_jobs)."""
    from .services import recover_lost_jobs, resend_waiting_jobs

    recover_lost_jobs()
    resend_waiting_jobs()
