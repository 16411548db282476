"""The scale-out deployment, as README's "Scale-out mode" runs it: two web processes
(`manage.py serve --no-worker`) and two job workers (`manage.py run_huey`) on one
PostgreSQL database and one Redis. A page on either web process hears the `batch.ready`
of a round that either worker ran, and the two workers never run one project's rounds
at the same time, nor one job twice, even when the job's queue message is sent twice.

Uses DATABASE_URL's server and REDIS_URL when set; otherwise a PostgreSQL at
127.0.0.1:5432 and a redis-server of its own. Either way the database is a fresh one,
dropped at the end, so the CI pass on SQLite runs this test too.
"""
import asyncio
import json
import os
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.asyncio.client import connect

from bench.loop_latency import CREATE_USER, Listener, Postgres, Processes, _wait_until_up, free_port, manage
from tests.throwaway_redis import ThrowawayRedis

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PG_SERVER = "postgres://postgres@127.0.0.1:5432"
BURSTS = 5
REQUESTS_PER_BURST = 6
SETTLE_TIMEOUT_S = 60

# Sends every job it sees queued twice more, as a lost-message resend (or a worker that
# died holding the message) would: both workers may then pick up the same job.
DUPLICATE_SENDER = """
import time
from activelearning.models import TrainingJob
from activelearning.services import send_job
sent = set()
deadline = time.monotonic() + {seconds}
while time.monotonic() < deadline:
    for job_id in TrainingJob.objects.filter(state="queued").values_list("pk", flat=True):
        if job_id not in sent:
            sent.add(job_id)
            send_job(job_id)
            send_job(job_id)
    time.sleep(0.02)
print(len(sent))
"""


def _server_url(database_url: str) -> str:
    """postgres://user@host:port/name -> postgres://user@host:port (the server, no database)."""
    if not database_url.startswith(("postgres://", "postgresql://")):
        return DEFAULT_PG_SERVER
    scheme, rest = database_url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


@pytest.fixture
def backend():
    """A fresh PostgreSQL database and a Redis, for this test only."""
    database = Postgres(_server_url(os.environ.get("DATABASE_URL", "")), f"labeler_multiprocess_{uuid.uuid4().hex[:10]}")
    database_url = database.create()
    own_redis = None
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        own_redis = ThrowawayRedis()
        own_redis.start()
        redis_url = own_redis.url
    try:
        yield {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "HUEY_NAME": f"labeler-mp-{uuid.uuid4().hex[:8]}"}
    finally:
        if own_redis is not None:
            own_redis.stop()
        database.drop()


def deployment_env(tmp_path, backend: dict, drop: tuple = ()) -> dict:
    """The environment every process of a test deployment gets: a fresh var dir, jobs
    through the real queue, this test's `backend` settings (without those in `drop`)."""
    left_out = ("SECRET_KEY", "WORKER_THREADS", "LABELER_SENTIMENT_DIR", *drop)
    return {
        **{k: v for k, v in os.environ.items() if k not in left_out},
        **backend,
        "LABELER_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "labeler.settings",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
        "HUEY_IMMEDIATE": "0",
    }


def bootstrapped_token(env: dict) -> str:
    """Migrate the deployment's database; a staff user's API token."""
    manage(env, "bootstrap", "--no-demo", timeout=120)
    return manage(env, "shell", "-c", CREATE_USER, timeout=60).strip().splitlines()[-1]


@pytest.fixture
def deployment(backend, tmp_path):
    """Two web processes and two workers; yields (web urls, token, env, database url)."""
    env = deployment_env(tmp_path, backend)
    token = bootstrapped_token(env)
    with stopped_after(Processes(tmp_path)) as procs:
        webs = []
        for name in ("web-a", "web-b"):
            port = free_port()
            procs.start(name, env, "serve", "--no-worker", "--port", str(port))
            webs.append(f"http://127.0.0.1:{port}")
        procs.start("worker-1", env, "run_huey")
        procs.start("worker-2", env, "run_huey")
        for base in webs:
            _wait_until_up(base, token, procs, timeout=60)
        yield webs, token, env, backend["DATABASE_URL"]


@contextmanager
def stopped_after(procs: Processes):
    """The processes, stopped afterwards; their logs' tails printed when something failed,
    and a failure when one of them exited meanwhile."""
    try:
        yield procs
        procs.check()
    except BaseException:
        print(procs.tails())
        raise
    finally:
        procs.stop_all()


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


async def _make_project(http: httpx.AsyncClient) -> int:
    response = await http.post(
        "/api/projects/",
        json={"name": "Two of everything", "class_names": ["negative", "positive"], "retrain_every": 1000, "batch_size": 20},
    )
    assert response.status_code == 201, response.text
    project = response.json()["id"]
    moods = {"good": "positive", "great": "positive", "bad": "negative", "awful": "negative"}
    rows = [
        {"text": f"a {mood} film, number {n}", **({"label": label} if n < 6 else {})}
        for n in range(30) for mood, label in moods.items()
    ]
    response = await http.post(
        f"/api/projects/{project}/import/",
        files={"file": ("items.jsonl", _jsonl(rows), "application/x-ndjson")},
        data={"format": "jsonl", "label_field": "label"},
    )
    assert response.status_code == 201, response.text
    return project


async def _wait_idle(http: httpx.AsyncClient, project: int) -> None:
    """Until no job of the project is queued or running, nor asked to run again."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        jobs = (await http.get(f"/api/projects/{project}/jobs/")).json()
        if jobs and all(job["state"] in ("succeeded", "failed") for job in jobs):
            await asyncio.sleep(0.5)  # a rerun is requested just after its job finishes
            jobs = (await http.get(f"/api/projects/{project}/jobs/")).json()
            if all(job["state"] in ("succeeded", "failed") for job in jobs):
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"jobs still busy after {SETTLE_TIMEOUT_S} s: {jobs}")


async def _exercise(webs: list[str], token: str, env: dict) -> dict:
    headers = {"Authorization": f"Token {token}"}
    clients = [httpx.AsyncClient(base_url=base, headers=headers, timeout=60) for base in webs]
    try:
        project = await _make_project(clients[0])
        await _wait_idle(clients[0], project)  # the import's own round
        listeners, readers, sockets = [], [], []
        for base in webs:
            ws = await connect(
                base.replace("http://", "ws://") + f"/ws/projects/{project}/", additional_headers=headers,
                origin=base, open_timeout=30,
            )
            sockets.append(ws)
            hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert hello.get("type") == "hello", hello
            listener = Listener(ws)
            listeners.append(listener)
            readers.append(asyncio.create_task(listener.run()))
        try:
            # One round asked for on web process B: both pages hear it.
            rounds_before = len((await clients[1].get(f"/api/projects/{project}/rounds/")).json())
            response = await clients[1].post(f"/api/projects/{project}/jobs/")
            assert response.status_code == 202, response.text
            heard = await asyncio.gather(*(listener.wait_beyond(rounds_before, timeout=60) for listener in listeners))
            assert [number for number, _, _ in heard] == [rounds_before + 1] * 2, heard
            assert all(event["project"] == project for _, _, event in heard), heard

            # Bursts of requests on both web processes, while every queued job's message
            # is sent twice more.
            duplicates = await asyncio.create_subprocess_exec(
                sys.executable, "manage.py", "shell", "-c", DUPLICATE_SENDER.format(seconds=BURSTS * 2 + 6),
                cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            await asyncio.sleep(3)  # the sender's Django starts
            statuses = []
            for _ in range(BURSTS):
                responses = await asyncio.gather(
                    *(clients[n % 2].post(f"/api/projects/{project}/jobs/") for n in range(REQUESTS_PER_BURST))
                )
                statuses += [r.status_code for r in responses]
                await asyncio.sleep(1.0)
            await _wait_idle(clients[0], project)
            out, err = await asyncio.wait_for(duplicates.communicate(), 60)
            assert duplicates.returncode == 0, err.decode()[-2000:]
            rounds = (await clients[0].get(f"/api/projects/{project}/rounds/")).json()
            last = max(r["number"] for r in rounds)
            await asyncio.gather(*(listener.wait_beyond(last - 1, timeout=30) for listener in listeners))
            return {
                "project": project,
                "statuses": statuses,
                "duplicated_jobs": int(out.decode().strip().splitlines()[-1]),
                "heard": [sorted(listener.ready) for listener in listeners],
                "rounds_before_bursts": rounds_before + 1,
            }
        finally:
            for reader in readers:
                reader.cancel()
            for ws in sockets:
                await ws.close()
    finally:
        for client in clients:
            await client.aclose()


def _job_and_round_rows(database_url: str, project: int) -> tuple[list[tuple], list[tuple]]:
    with psycopg.connect(database_url) as conn:
        jobs = conn.execute(
            "SELECT id, state, started_at, finished_at, round_id FROM activelearning_trainingjob "
            "WHERE project_id = %s ORDER BY started_at", (project,),
        ).fetchall()
        rounds = conn.execute(
            "SELECT id, number, created_at FROM activelearning_round WHERE project_id = %s ORDER BY number", (project,),
        ).fetchall()
    return jobs, rounds


def test_two_web_processes_and_two_workers(deployment):
    webs, token, env, database_url = deployment
    result = asyncio.run(_exercise(webs, token, env))

    assert set(result["statuses"]) == {202}, result["statuses"]
    assert result["duplicated_jobs"] >= 1, "no job was queued while the duplicate sender watched"
    jobs, rounds = _job_and_round_rows(database_url, result["project"])
    assert len(jobs) >= 4, jobs  # the import's, the first request's, and at least one per burst coalesced
    assert all(state == "succeeded" for _, state, *_ in jobs), jobs
    print(f"{len(jobs)} jobs, {len(rounds)} rounds, {result['duplicated_jobs']} jobs sent three times")

    # Never two of the project's rounds running at once, on either worker.
    for (earlier, *_, earlier_end, _), (later, _, later_start, *_) in zip(jobs, jobs[1:], strict=False):
        assert later_start >= earlier_end, f"job {later} started before job {earlier} finished"

    # Each job ran once: one round per job, each written while its job ran, and no round
    # without a job.
    round_of_job = {job_id: round_id for job_id, _, _, _, round_id in jobs}
    assert len(set(round_of_job.values())) == len(jobs) == len(rounds), (jobs, rounds)
    created = {round_id: created_at for round_id, _, created_at in rounds}
    for job_id, _, started, finished, round_id in jobs:
        assert started <= created[round_id] <= finished, f"round of job {job_id} written outside its run"
    assert [number for _, number, _ in rounds] == list(range(1, len(rounds) + 1))

    # Both pages, one on each web process, heard every round from the first request on.
    expected = list(range(result["rounds_before_bursts"], len(rounds) + 1))
    for heard in result["heard"]:
        assert heard == expected, result["heard"]
