"""Faults on the worker side: a worker killed mid-fit (SIGKILL, in a process of its own),
a worker told to stop mid-fit, a queue message lost, and the job queue's Redis
restarting or unreachable. Whatever happens, the last model and queue stay as they were
until a round completes, and the round is run again."""
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from huey import RedisHuey
from huey.contrib.djhuey import HUEY
from huey.storage import RedisStorage

from activelearning.models import ModelVersion, QueueEntry, Round, TrainingJob
from activelearning.services import (
    LOST_AFTER,
    REQUEUE_AFTER,
    WORKER_LOST,
    recover_lost_jobs,
    request_round,
    resend_waiting_jobs,
    resume_queued_jobs,
    send_job,
)
from activelearning.tasks import recover_jobs_task
from tests.conftest import add_items, break_learner

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trained(cast):
    """A project with one round done: model version 1 and its queue."""
    project = cast["project"]
    texts = [f"{mood} film number {n}" for n in range(20) for mood in ("good", "bad")]
    add_items(project, texts[:12], labels=["positive" if "good" in t else "negative" for t in texts[:12]])
    add_items(project, texts[12:])
    assert request_round(project.pk, reason="manual").pk
    assert ModelVersion.objects.filter(project=project).count() == 1
    assert QueueEntry.objects.filter(project=project).exists()
    return project


def model_and_queue(project):
    """What annotators and the next round see: model versions with their files, and the queue."""
    versions = list(ModelVersion.objects.filter(project=project).order_by("version").values_list("version", "artifact"))
    return {
        "versions": versions,
        "artifacts": {path: Path(path).read_bytes() for _, path in versions},
        "queue": list(QueueEntry.objects.filter(project=project).order_by("rank").values_list("item_id", "round_id")),
        "rounds": Round.objects.filter(project=project).count(),
    }


def age(job: TrainingJob, **fields_ago: timedelta) -> None:
    TrainingJob.objects.filter(pk=job.pk).update(**{name: timezone.now() - ago for name, ago in fields_ago.items()})


def assert_ran_a_new_round(project, before, job_id: int) -> None:
    job = TrainingJob.objects.get(pk=job_id)
    assert job.state == TrainingJob.State.SUCCEEDED, job.error
    after = model_and_queue(project)
    assert after["rounds"] == before["rounds"] + 1
    assert [version for version, _ in after["versions"]] == [1, 2]
    assert after["artifacts"][before["versions"][0][1]] == before["artifacts"][before["versions"][0][1]]
    assert after["queue"] and {round_id for _, round_id in after["queue"]} == {job.round_id}


# ---- killed mid-fit --------------------------------------------------------------------


def test_a_worker_killed_mid_fit_leaves_model_and_queue_and_its_round_runs_again(trained, tmp_path):
    before = model_and_queue(trained)
    job = TrainingJob.objects.create(project=trained, reason="manual")
    marker = tmp_path / "fitting"
    env = {name: value for name, value in os.environ.items() if name not in ("REDIS_URL", "HUEY_IMMEDIATE")}
    env["LABELER_VAR_DIR"] = str(tmp_path / "worker-var")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.activelearning.fault_worker", str(connection.settings_dict["NAME"]),
         str(job.pk), str(marker)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker never started fitting"
            time.sleep(0.1)
        job.refresh_from_db()
        assert job.state == TrainingJob.State.RUNNING and job.heartbeat_at is not None
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()

    job.refresh_from_db()
    assert job.state == TrainingJob.State.RUNNING
    assert model_and_queue(trained) == before

    # A heartbeat this fresh may be a slow worker's: the job is left alone.
    assert recover_lost_jobs() == []
    assert TrainingJob.objects.get(pk=job.pk).state == TrainingJob.State.RUNNING

    # Its heartbeat stopped LOST_AFTER ago: the job is failed and the round queued again.
    age(job, heartbeat_at=LOST_AFTER + timedelta(seconds=1))
    (retry_id,) = recover_lost_jobs()
    job.refresh_from_db()
    assert job.state == TrainingJob.State.FAILED and job.error == WORKER_LOST and job.finished_at
    assert TrainingJob.objects.get(pk=retry_id).reason == "retry"
    assert_ran_a_new_round(trained, before, retry_id)


def test_a_lost_retry_is_failed_without_another_retry(trained):
    lost = TrainingJob.objects.create(project=trained, reason="retry", state=TrainingJob.State.RUNNING,
                                      started_at=timezone.now(), heartbeat_at=timezone.now())
    age(lost, heartbeat_at=LOST_AFTER + timedelta(seconds=1))
    assert recover_lost_jobs() == []
    lost.refresh_from_db()
    assert lost.state == TrainingJob.State.FAILED
    assert not TrainingJob.objects.filter(state__in=[TrainingJob.State.QUEUED, TrainingJob.State.RUNNING]).exists()


def test_the_embedded_server_requeues_at_start_a_job_its_last_run_left_running(trained):
    before = model_and_queue(trained)
    left = TrainingJob.objects.create(project=trained, state=TrainingJob.State.RUNNING, started_at=timezone.now(),
                                      heartbeat_at=timezone.now())
    assert resume_queued_jobs(reclaim_running=True) == 1
    assert_ran_a_new_round(trained, before, left.pk)


# ---- told to stop mid-fit ----------------------------------------------------------------


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_a_worker_stopped_mid_fit_puts_its_job_back_and_the_next_start_runs_it(trained, monkeypatch, stop):
    before = model_and_queue(trained)
    job = TrainingJob.objects.create(project=trained, reason="manual")

    class StoppedFit:
        def fit(self, X, y):
            raise stop()

    with monkeypatch.context() as patch:
        break_learner(patch, lambda seed: StoppedFit())
        if stop is KeyboardInterrupt:
            send_job(job.pk)  # Huey takes it as "did not finish": no retry of its own
        else:
            with pytest.raises(SystemExit):
                send_job(job.pk)
    job.refresh_from_db()
    assert job.state == TrainingJob.State.QUEUED
    assert (job.phase, job.started_at, job.heartbeat_at) == ("", None, None)
    assert model_and_queue(trained) == before

    assert resume_queued_jobs() == 1
    assert_ran_a_new_round(trained, before, job.pk)


# ---- the queue message is lost, the queue's Redis restarts or is down ---------------------


def test_a_job_whose_queue_message_was_lost_is_sent_again_by_the_periodic_recovery(trained):
    before = model_and_queue(trained)
    waiting = TrainingJob.objects.create(project=trained, reason="manual")  # its message never reached a worker
    assert resend_waiting_jobs() == 0  # queued just now: its message may still be on its way
    age(waiting, created_at=REQUEUE_AFTER + timedelta(seconds=1))
    recover_jobs_task.call_local()
    assert_ran_a_new_round(trained, before, waiting.pk)


def test_the_job_queue_reconnects_after_redis_restarts(redis_server):
    queue = RedisHuey(f"faults-{uuid.uuid4().hex}", url=redis_server.url, results=False)
    ran = []

    @queue.task()
    def note(value):
        ran.append(value)

    note("before")
    queue.execute(queue.dequeue())
    redis_server.restart()
    note("after")  # the web side, on a pool whose connections Redis dropped
    queue.execute(queue.dequeue())  # the worker side
    assert ran == ["before", "after"]
    queue.storage.conn.close()


def test_a_round_asked_for_while_the_queue_is_down_stays_queued_and_is_sent_once_it_is_back(
    trained, redis_server, monkeypatch
):
    before = model_and_queue(trained)
    storage = RedisStorage(name=f"faults-{uuid.uuid4().hex}", url=redis_server.url)
    monkeypatch.setattr(HUEY, "_immediate", False)
    monkeypatch.setattr(HUEY, "storage", storage)
    redis_server.stop()
    job = request_round(trained.pk, reason="manual")  # no error reaches the request
    job.refresh_from_db()
    assert job.state == TrainingJob.State.QUEUED

    redis_server.start()
    age(job, created_at=REQUEUE_AFTER + timedelta(seconds=1))
    assert resend_waiting_jobs() == 1
    task = HUEY.dequeue()
    assert task.args == (job.pk,)
    HUEY.execute(task)
    assert_ran_a_new_round(trained, before, job.pk)
    storage.conn.close()
