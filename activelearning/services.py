"""Asking for a round: one queued-or-running job per project, later requests coalesce."""
import logging
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from annotations.events import publish_on_commit

from .models import SimulationRun, TrainingJob

logger = logging.getLogger(__name__)

# A running job whose heartbeat (jobs.Heartbeat, every 15 s) is older than LOST_AFTER
# lost its worker; STALE_AFTER is for jobs started before heartbeats were recorded.
LOST_AFTER = timedelta(minutes=2)
STALE_AFTER = timedelta(hours=1)
REQUEUE_AFTER = timedelta(minutes=1)
RETRY_REASON = "retry"
WORKER_LOST = "The worker stopped before the round finished."


def send_job(job_id: int) -> None:
    """Hand the job to the queue. When the queue's Redis is unreachable the job stays
    queued in the database and is sent again later (a request after REQUEUE_AFTER, the
    periodic recovery, a worker start): the request that asked for it does not fail."""
    from .tasks import run_round_task

    try:
        run_round_task(job_id)
    except Exception:
        logger.exception("could not send job %s to the queue; it stays queued and is sent again later", job_id)


def recover_lost_jobs(project_id: int | None = None) -> list[int]:
    """Fail the running jobs whose worker died (no heartbeat for LOST_AFTER) and queue
    each round once more, unless the lost job was that retry already (a round that
    kills its worker every time must not loop). Nothing of a lost round was written:
    the last model and queue stay until a round completes. Returns the new jobs' ids."""
    now = timezone.now()
    lost = TrainingJob.objects.filter(state=TrainingJob.State.RUNNING).filter(
        Q(heartbeat_at__lt=now - LOST_AFTER) | Q(heartbeat_at__isnull=True, started_at__lt=now - STALE_AFTER)
    )
    if project_id is not None:
        lost = lost.filter(project_id=project_id)
    retries = []
    for job in lost.only("pk", "project_id", "reason", "requested_by_id"):
        if not TrainingJob.objects.filter(pk=job.pk, state=TrainingJob.State.RUNNING).update(
            state=TrainingJob.State.FAILED, error=WORKER_LOST, finished_at=now
        ):
            continue
        logger.warning("job %s of project %s lost its worker", job.pk, job.project_id)
        publish_on_commit(job.project_id, "job.failed", job=job.pk, error=WORKER_LOST)
        if job.reason != RETRY_REASON:
            retries.append(request_round(job.project_id, reason=RETRY_REASON, user=job.requested_by).pk)
    return retries


def resend_waiting_jobs() -> int:
    """Send again the jobs queued for over REQUEUE_AFTER: their message may be gone (a
    Redis restart, a worker that died holding it). A job sent twice runs once."""
    waiting = list(
        TrainingJob.objects.filter(
            state=TrainingJob.State.QUEUED, created_at__lt=timezone.now() - REQUEUE_AFTER
        ).values_list("pk", flat=True)
    )
    for job_id in waiting:
        send_job(job_id)
    return len(waiting)


def request_round(project_id: int, reason: str = "labels", user: User | None = None) -> TrainingJob:
    """Queue a round, or fold this request into the one already waiting or running."""
    recover_lost_jobs(project_id)
    try:
        with transaction.atomic():
            job = TrainingJob.objects.create(project_id=project_id, reason=reason, requested_by=user)
            publish_on_commit(project_id, "job.queued", job=job.pk, reason=reason)
            transaction.on_commit(lambda: send_job(job.pk))
    except IntegrityError:
        active = TrainingJob.objects.filter(
            project_id=project_id, state__in=[TrainingJob.State.QUEUED, TrainingJob.State.RUNNING]
        ).first()
        if active is None:  # it finished between our insert and this read: try once more
            return request_round(project_id, reason, user)
        if active.state == TrainingJob.State.RUNNING:
            TrainingJob.objects.filter(pk=active.pk).update(rerun_requested=True)
        elif active.created_at < timezone.now() - REQUEUE_AFTER:
            # Its queue message may have been lost (a worker died holding it): send
            # another; running a job twice is harmless, the second finds it taken.
            send_job(active.pk)
        return active
    return job


def resume_queued_jobs(reclaim_running: bool = False) -> int:
    """At worker start: send again every job still marked queued, so none waits forever.

    `reclaim_running` is for the embedded mode, where this process is the only worker:
    a job left running was cut off when the process last stopped, so it is queued again.
    Elsewhere other workers may be running jobs: only those with a stale heartbeat are
    taken as lost (recover_lost_jobs).
    """
    if reclaim_running:
        TrainingJob.objects.filter(state=TrainingJob.State.RUNNING).update(
            state=TrainingJob.State.QUEUED, phase="", heartbeat_at=None
        )
    else:
        recover_lost_jobs()
    queued = list(TrainingJob.objects.filter(state=TrainingJob.State.QUEUED).values_list("pk", flat=True))
    for job_id in queued:
        send_job(job_id)
    return len(queued)


MIN_LABELED_FOR_SIMULATION = 30


def request_simulation(project, config: dict, user: User | None = None) -> SimulationRun:
    """Queue a simulation on the project's labeled items; refused (ValidationError)
    while too few items are labeled for a test split and an initial set."""
    from rest_framework.exceptions import ValidationError

    from annotations.models import Item

    from .tasks import run_simulation_task

    if project.is_image:
        raise ValidationError({"detail": "Simulating from the project page works for text projects. For images, run "
                                         "`manage.py simulate --data FOLDER` on a folder with one subfolder per class."})
    labeled = Item.objects.filter(project=project, status=Item.Status.LABELED, final_class__isnull=False).count()
    needed = max(MIN_LABELED_FOR_SIMULATION, int(config.get("initial", 20) / (1 - config.get("test_fraction", 0.3))) + 1)
    if labeled < needed:
        raise ValidationError({"detail": f"Simulation needs at least {needed} labeled items; this project has {labeled}."})
    with transaction.atomic():
        run = SimulationRun.objects.create(project=project, config=dict(config), requested_by=user)
        transaction.on_commit(lambda: run_simulation_task(run.pk))
    return run


def request_scheduled_rounds(now=None) -> list[int]:
    """Start a round for every project on the schedule trigger whose interval has passed
    since its last round and that has new labels since; returns their ids."""
    from annotations.models import Project

    now = now or timezone.now()
    started = []
    due = Project.objects.filter(retrain_trigger=Project.Trigger.SCHEDULE, labels_since_round__gt=0)
    for project in due.only("pk", "retrain_interval_minutes"):
        last = TrainingJob.objects.filter(project=project).order_by("-created_at").values_list("created_at", flat=True).first()
        if last is not None and last > now - timedelta(minutes=project.retrain_interval_minutes):
            continue
        if Project.objects.filter(pk=project.pk, labels_since_round__gt=0).update(labels_since_round=0):
            request_round(project.pk, reason="schedule")
            started.append(project.pk)
    return started
