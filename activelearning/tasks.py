"""Huey task wrappers; the work itself is in jobs.py, callable without a queue."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup
from threadpoolctl import threadpool_limits

from . import jobs


@on_startup()
def one_blas_thread() -> None:
    """Run BLAS single-threaded in processes that run rounds (process-wide, set once as
    the workers start). A round's BLAS work is level-1 operations on one coefficient
    vector (logistic regression's L-BFGS), far too small to share between threads;
    with OpenBLAS's default of one thread per core, every such call waits for threads
    that compete with the web server and the database for the same cores. On the
    2-core bench machine under load a 19k-element dot product took 2.7 ms instead of
    4 us, and a fit on 200 labels 0.4-1.4 s instead of 0.02-0.04 s."""
    threadpool_limits(limits=1, user_api="blas")


@db_task(retries=1, retry_delay=5)
def run_round_task(job_id: int) -> None:
    jobs.run_round(job_id)


@db_task(retries=0)
def run_simulation_task(simulation_id: int) -> None:
    jobs.run_simulation(simulation_id)


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
