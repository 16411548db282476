"""Loop latency: from the submit that starts a round to `batch.ready` on the websocket.

A 10,000-item text project (the shared sentiment sentences, duplicated with light
variations), one simulated annotator labeling through the REST API with the true
labels, and a websocket client listening to the project. Every `retrain_every`-th
submit (10) starts a round; the time from just before that submit is sent to the
arrival of the round's `batch.ready` is measured, over `--rounds` rounds after one
warm-up round. The server runs exactly as users run it (`manage.py serve`, which also
runs the job workers), on a fresh var dir per backend; on PostgreSQL+Redis also as
`serve --no-worker` plus a separate `manage.py run_huey` (the scale-out mode).

    .venv/bin/python bench/loop_latency.py [--backend sqlite|postgres|all] [--rounds 20] [--items 10000]

Prints one JSON object to stdout; progress goes to stderr.
"""
import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from annotations.formats.sentiment import read_sentiment_file  # noqa: E402  (no Django needed)

PYTHON = sys.executable
DATASET = REPO.parent / "shared" / "datasets" / "sentiment_labelled_sentences"
CLASSES = {"0": "negative", "1": "positive"}
RETRAIN_EVERY = 10
BATCH_SIZE = 50
EVENT_TIMEOUT_S = 120.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the data


VARIATIONS = (
    lambda t, k: f"{t} (copy {k})",
    lambda t, k: t.rstrip(".!?") + "!" * (1 + k % 3),
    lambda t, k: t.lower(),
    lambda t, k: f"Honestly, {t[:1].lower()}{t[1:]}",
    lambda t, k: f"{t} Review {k}.",
    lambda t, k: " ".join(reversed(t.split(", "))) if ", " in t else f"{t} ({k})",
    lambda t, k: t.replace(" ", "  ", 1),
    lambda t, k: f"Update {k}: {t}",
)


def build_dataset(items: int, eval_size: int, seed: int = 7) -> tuple[list[dict], list[dict], dict[str, str]]:
    """(pool rows, eval rows, text -> true label). Evaluation sentences are real
    sentences kept out of the pool; the pool is the rest, repeated with variations
    (each keeps its sentence's label) until it holds `items - eval_size` rows."""
    files = sorted(DATASET.glob("*_labelled.txt"))
    if not files:
        raise SystemExit(f"No *_labelled.txt under {DATASET}")
    unique: dict[str, str] = {}
    for path in files:
        for text, label in read_sentiment_file(path):
            unique.setdefault(text, label)
    pairs = list(unique.items())
    random.Random(seed).shuffle(pairs)
    evaluation, originals = pairs[:eval_size], pairs[eval_size:]
    truth = dict(pairs)
    pool: list[dict] = []
    copy = 0
    while len(pool) < items - eval_size:
        for text, label in originals:
            if len(pool) >= items - eval_size:
                break
            varied = text if copy == 0 else VARIATIONS[(copy - 1) % len(VARIATIONS)](text, copy)
            while varied in truth and copy:
                varied = f"{varied} (copy {copy})"
            truth[varied] = label
            pool.append({"text": varied})
        copy += 1
    eval_rows = [{"text": t, "label": CLASSES[y]} for t, y in evaluation]
    return pool, eval_rows, {t: CLASSES[y] for t, y in truth.items()}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


# ---------------------------------------------------------------- statistics


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(values: list[float], digits: int = 4) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), digits),
        "p95": round(percentile(values, 95), digits),
        "max": round(max(values), digits),
        "mean": round(statistics.fmean(values), digits),
    }


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


CREATE_USER = """
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
user = User.objects.create_user("bench", password=None, is_staff=True, is_superuser=True)
print(Token.objects.create(user=user).key)
"""


class Processes:
    """Server processes this run started; each in its own session, so stopping one
    stops its children too and nothing else."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, env: dict, *args: str) -> subprocess.Popen:
        log_path = self.logs / f"{name}.log"
        with log_path.open("w") as sink:
            proc = subprocess.Popen(
                [PYTHON, "manage.py", *args], cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append((name, proc, log_path))
        return proc

    def check(self) -> None:
        for name, proc, log_path in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail(log_path)}")

    def tails(self) -> str:
        return "\n".join(f"--- {name}\n{tail(path)}" for name, _, path in self.procs)

    def stop_all(self) -> None:
        for _, proc, _ in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _, proc, _ in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        self.procs.clear()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------- backends


class Postgres:
    """A fresh database for one run, dropped afterwards."""

    def __init__(self, base_url: str, name: str):
        self.base_url = base_url.rstrip("/")
        self.name = name

    def _admin(self, sql: str):
        import psycopg

        with psycopg.connect(f"{self.base_url}/postgres", autocommit=True) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else None

    def version(self) -> str:
        return self._admin("SHOW server_version")[0][0]

    def create(self) -> str:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.name}"')
        return f"{self.base_url}/{self.name}"

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def flush_redis(url: str) -> str:
    """Empty the bench's Redis database; returns the server version."""
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    return client.info("server")["redis_version"]


# ---------------------------------------------------------------- the client


class Listener:
    """Reads the project's websocket; notes when each batch.ready arrives."""

    def __init__(self, ws):
        self.ws = ws
        self.ready: dict[int, tuple[float, dict]] = {}
        self.changed = asyncio.Condition()
        self.events = 0

    async def run(self) -> None:
        async for raw in self.ws:
            arrived = time.perf_counter()
            event = json.loads(raw)
            self.events += 1
            if event.get("type") == "batch.ready":
                async with self.changed:
                    self.ready[int(event["round"])] = (arrived, event)
                    self.changed.notify_all()

    def latest(self) -> int:
        return max(self.ready, default=0)

    async def wait_beyond(self, round_number: int, timeout: float = EVENT_TIMEOUT_S) -> tuple[int, float, dict]:
        """The first batch.ready for a round after `round_number`."""

        async def newer():
            async with self.changed:
                await self.changed.wait_for(lambda: self.latest() > round_number)
            number = min(n for n in self.ready if n > round_number)
            arrived, event = self.ready[number]
            return number, arrived, event

        return await asyncio.wait_for(newer(), timeout)


async def drive(base: str, token: str, pool_file: Path, eval_file: Path, truth: dict[str, str], rounds: int) -> dict:
    headers = {"Authorization": f"Token {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
        response = await http.post(
            "/api/projects/",
            json={
                "name": "Loop latency bench", "class_names": ["negative", "positive"],
                "retrain_every": RETRAIN_EVERY, "batch_size": BATCH_SIZE,
            },
        )
        response.raise_for_status()
        project = response.json()["id"]
        api = f"/api/projects/{project}"
        ws_url = base.replace("http://", "ws://") + f"/ws/projects/{project}/"
        async with connect(ws_url, additional_headers=headers, origin=base, open_timeout=30) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert hello.get("type") == "hello", hello
            listener = Listener(ws)
            reader = asyncio.create_task(listener.run())
            try:
                return await _label(http, api, listener, pool_file, eval_file, truth, rounds)
            finally:
                reader.cancel()


async def _import(http: httpx.AsyncClient, api: str, path: Path, **fields: str) -> float:
    started = time.perf_counter()
    with path.open("rb") as f:
        response = await http.post(f"{api}/import/", files={"file": (path.name, f, "application/x-ndjson")}, data=fields)
    if response.status_code != 201:
        raise RuntimeError(f"import failed: {response.status_code} {response.text[:500]}")
    return time.perf_counter() - started


async def _label(http, api, listener: Listener, pool_file, eval_file, truth, rounds) -> dict:
    out: dict = {}
    # The evaluation split first (labeled), then the pool; each import asks for a round.
    out["import_eval_s"] = round(await _import(http, api, eval_file, split="eval", label_field="label", format="jsonl"), 3)
    number, _, _ = await listener.wait_beyond(0)
    # The pool import's round is the cold one: it fits TF-IDF over the whole pool.
    started = time.perf_counter()
    out["import_pool_s"] = round(await _import(http, api, pool_file, split="pool", format="jsonl"), 3)
    imported = time.perf_counter()
    number, arrived, _ = await listener.wait_beyond(number)
    out["cold_round_s"] = round(arrived - imported, 3)
    out["import_pool_to_ready_s"] = round(arrived - started, 3)
    last_round = cold_round = number

    claim_s: list[float] = []
    submit_s: list[float] = []
    loop_s: list[float] = []
    warmup_s: float | None = None
    latency_by_round: dict[int, float] = {}
    last_event: dict = {}
    wrong_claims = 0

    async def claim(release_except: list[int] | None = None) -> list[dict]:
        body: dict = {"want": 2}
        if release_except is not None:
            body["release_except"] = release_except
        t0 = time.perf_counter()
        response = await http.post(f"{api}/tasks/claim/", json=body)
        claim_s.append(time.perf_counter() - t0)
        response.raise_for_status()
        return response.json()["tasks"]

    tasks = await claim()
    submitted = 0
    while len(loop_s) < rounds:
        if not tasks:
            raise RuntimeError("no task to claim: the pool ran out")
        task = tasks[0]
        if task["split"] != "pool":
            wrong_claims += 1
        triggers = (submitted + 1) % RETRAIN_EVERY == 0
        t0 = time.perf_counter()
        response = await http.post(
            f"{api}/annotations/",
            json={"item": task["item"], "label": truth[task["text"]], "client_id": str(uuid.uuid4()), "duration_ms": 1500},
        )
        submit_s.append(time.perf_counter() - t0)
        if response.status_code != 201:
            raise RuntimeError(f"submit failed: {response.status_code} {response.text[:500]}")
        submitted += 1
        # As the page does: show the prefetched next item and top the claims up.
        tasks = await claim()
        if triggers:
            number, arrived, last_event = await listener.wait_beyond(last_round)
            latency = arrived - t0
            if warmup_s is None:
                warmup_s = latency
            else:
                loop_s.append(latency)
                latency_by_round[number] = latency
            last_round = number
            log(f"  round {number}: {latency:.3f} s ({submitted} labels)")
            # The queue was re-ranked: keep the item on screen, take the new top items.
            tasks = await claim(release_except=[tasks[0]["id"]] if tasks else [])

    response = await http.get(f"{api}/rounds/")
    response.raise_for_status()
    all_rounds = response.json()
    measured_rounds = [r for r in all_rounds if r["number"] in latency_by_round]
    # What the worker spent in the round itself, and the rest: queueing, the worker's
    # poll delay, the commit, and the websocket hop.
    work_s = {r["number"]: sum(r["timings"].values()) for r in measured_rounds}
    outside_s = [latency_by_round[n] - w for n, w in work_s.items()]
    cold = next((r for r in all_rounds if r["number"] == cold_round), {})
    timing_keys = sorted({k for r in measured_rounds for k in r.get("timings", {})})
    metrics = last_event.get("metrics") or {}
    out.update(
        {
            "cold_round_server_timings_s": cold.get("timings"),
            "rounds_measured": len(loop_s),
            "labels_submitted": submitted,
            "warmup_round_s": round(warmup_s, 3) if warmup_s is not None else None,
            "submit_to_batch_ready_s": summary(loop_s, 3),
            "per_round_s": [round(v, 3) for v in loop_s],
            "claim_ms": {k: (round(v * 1000, 1) if k != "n" else v) for k, v in summary(claim_s).items()},
            "submit_ms": {k: (round(v * 1000, 1) if k != "n" else v) for k, v in summary(submit_s).items()},
            "round_work_s": summary(list(work_s.values()), 3),
            "outside_round_work_s": summary(outside_s, 3),
            "server_round_timings_p50_s": {
                k: round(percentile([r["timings"][k] for r in measured_rounds if k in r["timings"]], 50), 4)
                for k in timing_keys
            },
            "last_round": last_round,
            "eval_accuracy_last_round": metrics.get("accuracy"),
            "eval_macro_f1_last_round": metrics.get("macro_f1"),
            "evaluated_on": metrics.get("evaluated_on"),
            "labels_used_last_round": measured_rounds[-1]["labels_used"] if measured_rounds else None,
            "non_pool_claims": wrong_claims,
            "websocket_events": listener.events,
        }
    )
    return out


# ---------------------------------------------------------------- one run


def run_one(label: str, mode: str, env_extra: dict, data: tuple, rounds: int) -> dict:
    pool_file, eval_file, truth = data
    work = Path(tempfile.mkdtemp(prefix=f"bench-loop-{label}-"))
    env = {
        **os.environ,
        "LABELER_VAR_DIR": str(work / "var"),
        "DJANGO_SETTINGS_MODULE": "labeler.settings",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
        "HUEY_IMMEDIATE": "0",
    }
    for key in ("DATABASE_URL", "REDIS_URL", "HUEY_NAME", "SECRET_KEY", "WORKER_THREADS"):
        env.pop(key, None)
    env.update(env_extra)
    procs = Processes(work)
    try:
        t0 = time.perf_counter()
        manage(env, "bootstrap", "--no-demo")
        token = manage(env, "shell", "-c", CREATE_USER).strip().splitlines()[-1]
        setup_s = time.perf_counter() - t0
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        if mode == "embedded":
            procs.start("serve", env, "serve", "--port", str(port))
        else:
            procs.start("serve", env, "serve", "--port", str(port), "--no-worker")
            procs.start("run_huey", env, "run_huey")
        _wait_until_up(base, token, procs)
        log(f"{label}/{mode}: server up on {base}")
        load_before = os.getloadavg()[0]
        result = asyncio.run(drive(base, token, pool_file, eval_file, truth, rounds))
        procs.check()
        return {
            "loadavg_1m": {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)},
            "server": (
                "manage.py serve (granian + in-process Huey worker threads)" if mode == "embedded"
                else "manage.py serve --no-worker + manage.py run_huey (separate worker process)"
            ),
            "setup_s": round(setup_s, 2),
            **result,
        }
    except Exception as exc:
        log(f"{label}/{mode} failed: {exc!r}\n{procs.tails()}")
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def _wait_until_up(base: str, token: str, procs: Processes, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check()
        try:
            if httpx.get(f"{base}/api/projects/", headers={"Authorization": f"Token {token}"}, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not up within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument(
        "--mode", choices=["embedded", "scale-out", "all"], default="all",
        help="PostgreSQL+Redis server mode: serve with in-process workers, serve --no-worker + run_huey, or both.",
    )
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--eval-size", type=int, default=300)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    args = parser.parse_args()

    pool, eval_rows, truth = build_dataset(args.items, args.eval_size)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-loop-data-"))
    output: dict = {
        "benchmark": "loop latency: triggering submit -> batch.ready on the websocket",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "nproc": os.cpu_count(),
            "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "setup": {
            "items": args.items, "pool_items": len(pool), "eval_items": len(eval_rows),
            "source_sentences": len(read_all_unique()),
            "retrain_every": RETRAIN_EVERY, "batch_size": BATCH_SIZE, "rounds": args.rounds,
            "claim_want": 2, "strategy": "least_confidence (project default)",
        },
    }
    try:
        data = (write_jsonl(data_dir / "pool.jsonl", pool), write_jsonl(data_dir / "eval.jsonl", eval_rows), truth)
        if args.backend in ("sqlite", "all"):
            log("sqlite: embedded (serve)")
            output["sqlite"] = {"embedded": {"backend": "SQLite (WAL) + in-memory channel layer + Huey on SQLite",
                                             **run_one("sqlite", "embedded", {}, data, args.rounds)}}
        if args.backend in ("postgres", "all"):
            modes = ["embedded", "scale-out"] if args.mode == "all" else [args.mode]
            output["postgres"] = {}
            for mode in modes:
                name = f"bench_loop_{os.getpid()}_{mode.replace('-', '_')}"
                pg = Postgres(args.pg_url, name)
                try:
                    versions = f"PostgreSQL {pg.version()} + Redis {flush_redis(args.redis_url)}"
                    env = {"DATABASE_URL": pg.create(), "REDIS_URL": args.redis_url, "HUEY_NAME": name}
                    log(f"postgres+redis: {mode}")
                    output["postgres"][mode] = {"backend": versions, **run_one("postgres", mode, env, data, args.rounds)}
                except Exception as exc:  # no database or no Redis: say so, go on
                    log(f"postgres+redis/{mode} not run: {exc!r}")
                    output["postgres"][mode] = {"error": f"{type(exc).__name__}: {exc}"}
                finally:
                    for cleanup in (pg.drop, lambda: flush_redis(args.redis_url)):
                        try:
                            cleanup()
                        except Exception as exc:
                            log(f"cleanup failed: {exc!r}")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(output, indent=2))


def read_all_unique() -> set[str]:
    return {text for path in sorted(DATASET.glob("*_labelled.txt")) for text, _ in read_sentiment_file(path)}


if __name__ == "__main__":
    main()
