"""Next-task (claim) and submit latency over HTTP on a 1,000,000-item project.

The server runs as users run it: `manage.py serve` (granian, job workers in-process) on a
fresh var dir, SQLite by default or a fresh PostgreSQL database (`--backend postgres`,
dropped afterwards). The project (`--items` unlabeled text items, 20 annotators with
tokens) is written with bulk inserts before the server starts; `retrain_every` is out of
reach, so no round runs and only claims and submits are timed.

Each annotator repeats what the page does: claim (`want=2`: the task on screen and the
next), then submit the first task's label. Measured for one annotator (`--iterations`
claim+submit pairs) and for 20 at once (each loops for `--seconds`), once with one
keep-alive connection per annotator and once with a new connection per request. The 20
also run paced (`--rate`, 100 labels/s together by default): each starts a label on a
fixed schedule, so the latencies are those of a server given that load, not of one driven
to its limit (where, by Little's law, 20 annotators with no pause wait 20 / throughput
seconds per label whatever the server does).

`--pages` also keeps each annotator's page open (the project's websocket), as in real
use, and counts the events the pages hear.

    .venv/bin/python bench/http_latency.py [--backend sqlite|postgres] [--items 1000000] [--processes 2]
        [--redis] [--pages]

Prints one JSON object to stdout; progress goes to stderr.
"""
import argparse
import http.client
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.loop_latency import Postgres, Processes, free_port, log, manage, percentile  # noqa: E402

CHUNK = 50_000
CLASSES = ("negative", "positive")
CONCURRENT = 20
GOALS = {
    "one annotator next-task p95 ms": 20,
    "one annotator submit p95 ms": 30,
    "20 annotators labels/s": 100,
    "20 annotators next-task p95 ms": 50,
    "20 annotators paced labels/s": 100,
    "20 annotators paced next-task p95 ms": 50,
}


def build(items: int, annotators: int) -> tuple[int, list[str]]:
    """The project and its annotators' tokens; Django must be set up."""
    from django.contrib.auth.models import User
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from annotations.models import Item, LabelClass, Membership, Ontology, Project

    ontology = Ontology.objects.create(name="Latency")
    for index, key in enumerate(CLASSES):
        LabelClass.objects.create(ontology=ontology, key=key, name=key, hotkey=str(index + 1), order=index)
    project = Project.objects.create(name="HTTP latency", ontology=ontology, retrain_every=10**9)
    for start in range(0, items, CHUNK):
        Item.objects.bulk_create(
            [Item(project=project, text=f"review {n}: the plot was fine") for n in range(start, min(start + CHUNK, items))],
            batch_size=5000,
        )
        log(f"  {min(start + CHUNK, items):,} items")
    users = [User.objects.create_user(f"annotator{n}") for n in range(annotators)]
    Membership.objects.bulk_create([Membership(project=project, user=u, role=Membership.Role.ANNOTATOR) for u in users])
    tokens = [Token.objects.create(user=u).key for u in users]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # as import_rows does after a load
            cursor.execute("ANALYZE annotations_item, annotations_assignment, annotations_annotation")
    connection.close()
    return project.pk, tokens


def wait_until_listening(port: int, procs: Processes, timeout: float = 90) -> None:
    """Until the server on `port` accepts connections; raises if it exits or never does."""
    deadline = time.monotonic() + timeout
    while True:
        procs.check()
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=2).connect()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.1)


class Annotator:
    """One person's HTTP client: one keep-alive connection, or a new one per request."""

    def __init__(self, port: int, token: str, project: int, keep_alive: bool):
        self.port = port
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.api = f"/api/projects/{project}"
        self.keep_alive = keep_alive
        self.conn: http.client.HTTPConnection | None = None
        self.claim_s: list[float] = []
        self.submit_s: list[float] = []
        self.statuses: dict[int, int] = {}
        self.labels = 0

    def _post(self, path: str, body: dict) -> tuple[int, dict, float]:
        t0 = time.perf_counter()
        if self.conn is None or not self.keep_alive:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = self.headers if self.keep_alive else {**self.headers, "Connection": "close"}
        self.conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - t0
        if not self.keep_alive or response.will_close:
            self.conn.close()
            self.conn = None
        self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
        return response.status, (json.loads(data) if data else {}), elapsed

    def step(self) -> None:
        """Claim, then submit the task on screen."""
        status, data, elapsed = self._post(f"{self.api}/tasks/claim/", {"want": 2})
        self.claim_s.append(elapsed)
        if status != 200 or not data.get("tasks"):
            raise RuntimeError(f"claim answered {status}: {str(data)[:300]}")
        item = data["tasks"][0]["item"]
        status, data, elapsed = self._post(
            f"{self.api}/annotations/", {"item": item, "label": CLASSES[item % 2], "client_id": str(uuid.uuid4())}
        )
        self.submit_s.append(elapsed)
        if status != 201:
            raise RuntimeError(f"submit answered {status}: {str(data)[:300]}")
        self.labels += 1


class Page:
    """The annotator's open page: a websocket on the project, each event read and counted."""

    def __init__(self, port: int, token: str, project: int):
        from websockets.sync.client import connect

        self.socket = connect(
            f"ws://127.0.0.1:{port}/ws/projects/{project}/", origin=f"http://127.0.0.1:{port}",
            additional_headers={"Authorization": f"Token {token}"}, open_timeout=30,
        )
        self.events: dict[str, int] = {}
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for message in self.socket:
                kind = json.loads(message).get("type", "?")
                self.events[kind] = self.events.get(kind, 0) + 1
        except ConnectionClosed:
            pass

    def close(self) -> None:
        self.socket.close()
        self.thread.join(5)


def ms(values: list[float]) -> dict:
    return {
        "n": len(values),
        **{f"p{q}": round(percentile(values, q) * 1000, 1) for q in (50, 95, 99)},
        "max": round(max(values) * 1000, 1),
    }


def one_annotator(port: int, token: str, project: int, keep_alive: bool, iterations: int) -> dict:
    person = Annotator(port, token, project, keep_alive)
    for _ in range(10):  # warm-up: first requests load code and fill caches
        person.step()
    person.claim_s.clear()
    person.submit_s.clear()
    for _ in range(iterations):
        person.step()
    return {"next_task_ms": ms(person.claim_s), "submit_ms": ms(person.submit_s), "statuses": person.statuses}


def many_annotators(
    ports: list[int], tokens: list[str], project: int, keep_alive: bool, seconds: float, rate: float | None = None,
    pages: bool = False,
) -> dict:
    """Annotator n talks to web process n mod len(ports), as a proxy spreading connections would.

    Without `rate` each annotator starts the next label as soon as the last is stored (a
    closed loop: the throughput is the server's capacity, and by Little's law each label
    then takes annotators / throughput seconds). With `rate` (labels per second, all
    annotators together) each starts a label on a fixed schedule, late or not, as people
    with their own pace would: the latencies are those the server gives at that load.
    With `pages` each annotator also keeps the project's websocket open, as the labeling
    page does, and hears every event the server sends it."""
    people = [Annotator(ports[n % len(ports)], token, project, keep_alive) for n, token in enumerate(tokens)]
    open_pages = [Page(ports[n % len(ports)], token, project) for n, token in enumerate(tokens)] if pages else []
    errors: list[str] = []
    start = threading.Barrier(len(people) + 1)
    stop = threading.Event()
    interval = len(people) / rate if rate else 0.0

    def work(person: Annotator, offset: float) -> None:
        start.wait()
        due = time.perf_counter() + offset
        while not stop.is_set():
            if interval:
                wait = due - time.perf_counter()
                if wait > 0 and stop.wait(wait):
                    break
                due += interval
            try:
                person.step()
            except Exception as exc:  # noqa: BLE001  (counted and reported)
                errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.1)

    threads = [threading.Thread(target=work, args=(p, n * interval / len(people))) for n, p in enumerate(people)]
    for thread in threads:
        thread.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    for page in open_pages:
        page.close()
    heard: dict[str, int] = {}
    for page in open_pages:
        for kind, n in page.events.items():
            heard[kind] = heard.get(kind, 0) + n
    labels = sum(p.labels for p in people)
    statuses: dict[int, int] = {}
    for person in people:
        for code, n in person.statuses.items():
            statuses[code] = statuses.get(code, 0) + n
    return {
        "annotators": len(people),
        "offered_labels_per_s": rate,
        "seconds": round(elapsed, 1),
        "labels": labels,
        "labels_per_s": round(labels / elapsed, 1),
        "next_task_ms": ms([v for p in people for v in p.claim_s]),
        "submit_ms": ms([v for p in people for v in p.submit_s]),
        "statuses": statuses,
        "errors": errors[:5],
        "error_count": len(errors),
        **({"pages_open": len(open_pages), "events_heard_by_pages": heard} if pages else {}),
    }


def verdict(results: dict) -> dict:
    """Each goal against the keep-alive and new-connection figures."""
    out = {}
    for mode in ("keep_alive", "new_connection"):
        one, many = results[mode]["one_annotator"], results[mode]["twenty_annotators"]
        measured = {
            "one annotator next-task p95 ms": one["next_task_ms"]["p95"],
            "one annotator submit p95 ms": one["submit_ms"]["p95"],
            "20 annotators labels/s": many["labels_per_s"],
            "20 annotators next-task p95 ms": many["next_task_ms"]["p95"],
        }
        paced = results[mode].get("twenty_annotators_paced")
        if paced:
            # Sustained: at least 99 % of the offered labels stored (the last slots may be
            # cut by the end of the run), at an offered rate that reaches the goal.
            sustained = paced["labels_per_s"] >= 0.99 * paced["offered_labels_per_s"]
            measured["20 annotators paced labels/s"] = paced["offered_labels_per_s"] if sustained else paced["labels_per_s"]
            measured["20 annotators paced next-task p95 ms"] = paced["next_task_ms"]["p95"]
        out[mode] = {
            goal: {"goal": limit, "measured": value, "met": value >= limit if "labels/s" in goal else value <= limit}
            for goal, value in measured.items()
            for limit in [GOALS[goal]]
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--web-processes", type=int, default=1,
                        help="1: `manage.py serve` (embedded, jobs in-process); N > 1: N `serve --no-worker` "
                             "processes and Redis (the README's scale-out mode), annotators spread over them")
    parser.add_argument("--processes", type=int, default=1,
                        help="with one --web-processes: `manage.py serve --processes N` (N processes on one port, "
                             "jobs in the first; no Redis needed)")
    parser.add_argument("--rate", type=float, default=100,
                        help="labels per second the 20 annotators offer together in the paced run (0: skip it)")
    parser.add_argument("--pages", action="store_true",
                        help="each of the 20 annotators also keeps the project's websocket open, as its page does")
    parser.add_argument("--redis", action="store_true",
                        help="with one --web-processes: REDIS_URL set for `serve` too (channel layer and job queue in Redis)")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    pg = Postgres(args.pg_url, f"bench_http_{os.getpid()}") if args.backend == "postgres" else None
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "HUEY_IMMEDIATE")},
        "LABELER_VAR_DIR": str(work / "var"),
        "DJANGO_SETTINGS_MODULE": "labeler.settings",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
    }
    procs = Processes(work)
    try:
        if pg is not None:
            env["DATABASE_URL"] = pg.create()
        manage(env, "bootstrap", "--no-demo")
        os.environ.update(env)
        import django

        django.setup()
        t0 = time.perf_counter()
        log(f"building {args.items:,} items ({args.backend})")
        project, tokens = build(args.items, CONCURRENT)
        build_s = time.perf_counter() - t0
        ports = [free_port() for _ in range(args.web_processes)]
        if args.web_processes == 1:
            serve_env = {**env, "REDIS_URL": args.redis_url} if args.redis else env
            procs.start("serve", serve_env, "serve", "--processes", str(args.processes), "--port", str(ports[0]))
        else:
            for n, port in enumerate(ports):
                procs.start(f"serve-{n}", {**env, "REDIS_URL": args.redis_url}, "serve", "--no-worker",
                            "--port", str(port))
        for port in ports:
            wait_until_listening(port, procs)
        port = ports[0]
        load_before = os.getloadavg()[0]
        results: dict = {}
        for mode, keep_alive in (("keep_alive", True), ("new_connection", False)):
            log(f"{mode}: one annotator")
            one = one_annotator(port, tokens[0], project, keep_alive, args.iterations)
            log(f"{mode}: {CONCURRENT} annotators for {args.seconds} s")
            many = many_annotators(ports, tokens, project, keep_alive, args.seconds, pages=args.pages)
            results[mode] = {"one_annotator": one, "twenty_annotators": many}
            if args.rate:
                log(f"{mode}: {CONCURRENT} annotators paced at {args.rate} labels/s together for {args.seconds} s")
                results[mode]["twenty_annotators_paced"] = many_annotators(
                    ports, tokens, project, keep_alive, args.seconds, rate=args.rate, pages=args.pages
                )
        procs.check()
        server_errors = [
            line for log_file in sorted(work.glob("serve*.log"))
            for line in log_file.read_text(errors="replace").splitlines()
            if line.startswith(("ERROR", "Traceback")) or "Error:" in line or "Exception:" in line
        ]
        output = {
            "benchmark": "next-task (claim want=2) and submit over HTTP",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "server": f"manage.py serve --processes {args.processes} (granian; job workers in the first process)"
                      f"{' + Redis' if args.redis else ''}"
                      if args.web_processes == 1 else
                      f"{args.web_processes} x manage.py serve --no-worker (granian) + Redis, annotators spread over them",
            "backend": f"PostgreSQL {pg.version()}" if pg else "SQLite (WAL)",
            "machine": {"nproc": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "loadavg_1m": {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)},
            "items": args.items,
            "pages_open": args.pages,
            "build_s": round(build_s, 1),
            **results,
            "goals": verdict(results),
            "server_error_lines": server_errors[:20],
        }
        print(json.dumps(output, indent=2))
    finally:
        procs.stop_all()
        if pg is not None:
            from django.db import connections

            connections.close_all()
            pg.drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
