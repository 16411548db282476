"""The worker's round: fit on the labels so far, score the pool, write the next batch.

A plain function on a job id, safe to run twice: it claims the job with a
conditional UPDATE, and writes the model, the round and the queue in one
transaction, so a failure leaves the last model and queue as they were.

A worker that dies mid-round leaves its job running: its heartbeat stops, and
`services.recover_lost_jobs` fails it and queues the round again. A worker told to
stop (KeyboardInterrupt, SystemExit) puts its job back in the queue itself.
"""
import logging
import threading
import time
import traceback

import numpy as np
from django.db import connection
from django.utils import timezone

from annotations.events import publish_now
from annotations.models import Item

from .models import SimulationRun, TrainingJob
from .rounds import fit_score_select

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25
HEARTBEAT_EVERY_S = 15


class Heartbeat:
    """Touches the job's heartbeat_at from a thread of its own while the round runs, so
    a long fit with no progress to report still shows that its worker is alive."""

    def __init__(self, job_id: int, every_s: float = HEARTBEAT_EVERY_S):
        self.job_id = job_id
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-job-{job_id}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        # Not joined: a beat waiting for a database lock must not hold up the round's
        # end; once the job is no longer running a late beat changes nothing.
        self._stop.set()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.every_s):
                try:
                    TrainingJob.objects.filter(pk=self.job_id, state=TrainingJob.State.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:
                    logger.warning("could not record the heartbeat of job %s", self.job_id, exc_info=True)
        finally:
            connection.close()


class Progress:
    """Phase and n-of-N, stored on the job and pushed to the project's pages (throttled)."""

    def __init__(self, job: TrainingJob):
        self.job = job
        self._last = 0.0

    def report(self, phase: str, done: int = 0, total: int = 0, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_EVERY_S:
            return
        self._last = now
        TrainingJob.objects.filter(pk=self.job.pk).update(
            phase=phase, progress_done=done, progress_total=total, heartbeat_at=timezone.now()
        )
        publish_now(self.job.project_id, "job.progress", job=self.job.pk, phase=phase, done=done, total=total)


def run_round(job_id: int) -> None:
    now = timezone.now()
    if not TrainingJob.objects.filter(pk=job_id, state=TrainingJob.State.QUEUED).update(
        state=TrainingJob.State.RUNNING, started_at=now, heartbeat_at=now, phase="starting"
    ):
        return  # already run, or taken by another worker
    job = TrainingJob.objects.select_related("project").get(pk=job_id)
    progress = Progress(job)
    try:
        with Heartbeat(job_id):
            round_ = fit_score_select(job.project, progress)
    except (KeyboardInterrupt, SystemExit):
        # The worker is stopping: nothing of the round was written; queue it again for
        # the next worker start (resume_queued_jobs) or recovery to send.
        logger.warning("round for project %s interrupted (job %s); queued again", job.project_id, job_id)
        TrainingJob.objects.filter(pk=job_id, state=TrainingJob.State.RUNNING).update(
            state=TrainingJob.State.QUEUED, phase="", started_at=None, heartbeat_at=None,
            progress_done=0, progress_total=0,
        )
        raise
    except Exception as exc:
        logger.exception("round for project %s failed (job %s)", job.project_id, job_id)
        TrainingJob.objects.filter(pk=job_id).update(
            state=TrainingJob.State.FAILED, error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(), finished_at=timezone.now(),
        )
        publish_now(job.project_id, "job.failed", job=job_id, error=f"{type(exc).__name__}: {exc}")
        _rerun_if_requested(job_id, job.project_id)
        return
    TrainingJob.objects.filter(pk=job_id).update(
        state=TrainingJob.State.SUCCEEDED, round=round_, phase="done", finished_at=timezone.now()
    )
    _rerun_if_requested(job_id, job.project_id)


def _rerun_if_requested(job_id: int, project_id: int) -> None:
    from .services import request_round

    if TrainingJob.objects.filter(pk=job_id, rerun_requested=True).exists():
        request_round(project_id, reason="coalesced")




def run_simulation(simulation_id: int) -> None:
    """Replay the requested strategies on the project's labeled items (an oracle that
    answers with their final labels); safe to run twice, the second finds it taken."""
    from .datasets import Dataset
    from .simulate import SimulationConfig, simulate

    if not SimulationRun.objects.filter(pk=simulation_id, state=SimulationRun.State.QUEUED).update(
        state=SimulationRun.State.RUNNING
    ):
        return
    run = SimulationRun.objects.select_related("project").get(pk=simulation_id)
    project = run.project
    try:
        rows = list(
            Item.objects.filter(project=project, status=Item.Status.LABELED, final_class__isnull=False)
            .order_by("pk").values_list("text", "final_class__key")
        )
        dataset = Dataset("text", [text for text, _ in rows], np.asarray([key for _, key in rows], dtype=str), project.name)
        config = SimulationConfig(
            strategies=run.config["strategies"], learner=project.learner, initial=run.config.get("initial", 20),
            batch=run.config.get("batch", 10), budget=run.config.get("budget", 200), seeds=run.config.get("seeds", 3),
            test_fraction=run.config.get("test_fraction", 0.3),
            sampling={key: value for key, value in (project.sampling or {}).items() if key != "mix"},
        )
        budget_cap = int(len(rows) * (1 - config.test_fraction)) - config.initial
        config.budget = max(1, min(config.budget, budget_cap))
        result = simulate(dataset, config)
    except Exception as exc:
        logger.exception("simulation %s for project %s failed", simulation_id, project.pk)
        SimulationRun.objects.filter(pk=simulation_id).update(
            state=SimulationRun.State.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        publish_now(project.pk, "simulation.finished", simulation=simulation_id, state="failed")
        return
    SimulationRun.objects.filter(pk=simulation_id).update(
        state=SimulationRun.State.SUCCEEDED, result=result, finished_at=timezone.now()
    )
    publish_now(project.pk, "simulation.finished", simulation=simulation_id, state="succeeded")
