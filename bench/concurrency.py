"""Concurrent annotators: many people claiming and submitting on one project at once.

Each annotator is a thread with its own database connection and its own REST client
(DRF's APIClient, the whole Django request path in-process, so requests from
different threads reach the database at the same time). Each claims (`want=2`, as the
page does) and submits the first task until it has `--submissions` answers. Afterwards
the database is counted: every 201 must be stored (no lost annotation), no item may
have more answers or more live claims than the project's overlap, and no request may
have answered 5xx.

    .venv/bin/python bench/concurrency.py [--backend sqlite|postgres|all] [--annotators 50]
        [--submissions 100] [--overlap 1 3]

Prints one JSON object to stdout; progress goes to stderr. tests/annotations/
test_concurrent_annotators.py runs the same code at a smaller size.
"""
import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.loop_latency import Postgres, log, manage, summary  # noqa: E402

CLASSES = ("negative", "positive")


def make_crowd_project(annotators: int, submissions: int, overlap: int, name: str = "Crowd"):
    """A text project with `annotators` annotator members and just enough pool items for
    each to submit `submissions` answers (plus the claims still held at the end).
    Rounds never start (retrain_every is out of reach): only claims and submits run."""
    from django.contrib.auth.models import User

    from annotations.models import Item, LabelClass, Membership, Ontology, Project

    ontology = Ontology.objects.create(name=f"{name} ontology")
    for index, key in enumerate(CLASSES):
        LabelClass.objects.create(ontology=ontology, key=key, name=key, hotkey=str(index + 1), order=index)
    project = Project.objects.create(name=name, ontology=ontology, overlap=overlap, retrain_every=10**9)
    items = math.ceil(annotators * submissions / overlap) + annotators * 2
    Item.objects.bulk_create(
        [Item(project=project, text=f"sentence {n} of the crowd") for n in range(items)], batch_size=2000
    )
    tag = uuid.uuid4().hex[:6]
    users = User.objects.bulk_create([User(username=f"crowd-{tag}-{n}") for n in range(annotators)])
    users = list(User.objects.filter(username__startswith=f"crowd-{tag}-").order_by("pk"))
    Membership.objects.bulk_create([Membership(project=project, user=u, role=Membership.Role.ANNOTATOR) for u in users])
    return project, users


BUSY_RETRIES = 5


def post_as_the_page_does(client, url: str, body: dict, seen: Counter):
    """POST, and after a 503 (the database was busy past its lock timeout) wait for its
    Retry-After and send the same request again, as the labeling page does; every
    status is counted, so the 503s stay visible in the report."""
    from django.db import connections

    for attempt in range(BUSY_RETRIES + 1):
        response = client.post(url, body, format="json")
        # A server gives the connection back (to PostgreSQL's pool) when a request ends;
        # the test client keeps it, which would hold one per annotator.
        connections.close_all()
        seen[response.status_code] += 1
        if response.status_code != 503 or attempt == BUSY_RETRIES:
            return response
        seen["busy_retries"] += 1
        time.sleep(float(response.headers.get("Retry-After", "1")))
    return response


def run_crowd(project, users, submissions: int) -> dict:
    """Every user claims and submits at once, each from a thread of its own."""
    from django.db import connections
    from rest_framework.test import APIClient

    start = threading.Barrier(len(users))
    lock = threading.Lock()
    created: list[int] = []
    statuses: Counter = Counter()
    errors: list[str] = []
    claim_s: list[float] = []
    submit_s: list[float] = []
    done_by: list[int] = []
    api = f"/api/projects/{project.pk}"

    def annotate(user) -> None:
        client = APIClient()
        client.raise_request_exception = False  # a view's crash must show as a 500, counted
        client.force_authenticate(user)
        mine: list[int] = []
        seen: Counter = Counter()
        claims: list[float] = []
        submits: list[float] = []
        try:
            start.wait()
            while len(mine) < submissions:
                t0 = time.perf_counter()
                response = post_as_the_page_does(client, f"{api}/tasks/claim/", {"want": 2}, seen)
                claims.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    errors.append(f"claim {response.status_code}: {response.content[:300]!r}")
                    continue
                tasks = response.json()["tasks"]
                if not tasks:
                    errors.append(f"{user.username}: nothing left to claim after {len(mine)} answers")
                    break
                t0 = time.perf_counter()
                response = post_as_the_page_does(
                    client, f"{api}/annotations/",
                    {"item": tasks[0]["item"], "label": CLASSES[tasks[0]["item"] % 2], "client_id": str(uuid.uuid4())},
                    seen,
                )
                submits.append(time.perf_counter() - t0)
                if response.status_code == 201:
                    mine.append(response.json()["id"])
                else:
                    errors.append(f"submit {response.status_code}: {response.content[:300]!r}")
        except Exception as exc:  # noqa: BLE001  (reported, and fails the run)
            errors.append(f"{user.username}: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()
            with lock:
                created.extend(mine)
                statuses.update(seen)
                claim_s.extend(claims)
                submit_s.extend(submits)
                done_by.append(len(mine))

    threads = [threading.Thread(target=annotate, args=(user,), name=f"annotator-{user.pk}") for user in users]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    return {
        "created_ids": created,
        "statuses": dict(statuses),
        "errors": errors,
        "elapsed_s": elapsed,
        "claim_s": claim_s,
        "submit_s": submit_s,
        "answers_per_annotator": done_by,
    }


def count_in_database(project, created_ids: list[int]) -> dict:
    """What the database holds after the run, against what the clients were told."""
    from django.db.models import Count, F, Q

    from annotations.models import Annotation, Assignment, Item

    stored = set(Annotation.objects.filter(project=project, pk__in=created_ids).values_list("pk", flat=True))
    live_claims = Q(assignments__is_gold=False) & Q(
        assignments__status__in=[Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED, Assignment.Status.RETURNED]
    )
    items = Item.objects.filter(project=project).annotate(
        answers=Count("annotations", distinct=True), claims=Count("assignments", filter=live_claims, distinct=True)
    )
    return {
        "annotations_in_database": Annotation.objects.filter(project=project).count(),
        "lost_annotations": len(set(created_ids) - stored),
        "duplicate_201_ids": len(created_ids) - len(set(created_ids)),
        "items_over_answers": items.filter(answers__gt=project.overlap).count(),
        "items_over_claims": items.filter(claims__gt=project.overlap).count(),
        "items_over_assigned_count": Item.objects.filter(project=project, assigned_count__gt=project.overlap).count(),
        "items_count_mismatch": items.exclude(assigned_count=F("claims")).count(),
        "same_annotator_twice": Annotation.objects.filter(project=project)
        .values("item", "annotator").annotate(n=Count("pk")).filter(n__gt=1).count(),
    }


def crowd_report(annotators: int, submissions: int, overlap: int) -> dict:
    """One run: build the project, let the crowd loose, count."""
    project, users = make_crowd_project(annotators, submissions, overlap, name=f"Crowd overlap {overlap}")
    run = run_crowd(project, users, submissions)
    counted = count_in_database(project, run["created_ids"])
    codes = {code: n for code, n in run["statuses"].items() if isinstance(code, int)}
    server_errors = sum(n for code, n in codes.items() if code >= 500 and code != 503)
    ms = lambda values: {k: (round(v * 1000, 1) if k != "n" else v) for k, v in summary(values).items()}  # noqa: E731
    return {
        "annotators": annotators,
        "submissions_each": submissions,
        "overlap": overlap,
        "created_201": len(run["created_ids"]),
        "statuses": {str(code): n for code, n in sorted(codes.items())},
        "unexpected_5xx": server_errors,
        "busy_503_then_retried": run["statuses"].get("busy_retries", 0),
        "errors": run["errors"][:10],
        "min_answers_by_one_annotator": min(run["answers_per_annotator"], default=0),
        "elapsed_s": round(run["elapsed_s"], 2),
        "labels_per_s": round(len(run["created_ids"]) / run["elapsed_s"], 1) if run["elapsed_s"] else None,
        "claim_ms": ms(run["claim_s"]),
        "submit_ms": ms(run["submit_s"]),
        **counted,
    }


# ---------------------------------------------------------------- the bench


def _child(args) -> None:
    """Runs inside an environment already pointed at the backend's database."""
    import django

    django.setup()
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    results = [crowd_report(args.annotators, args.submissions, overlap) for overlap in args.overlap]
    print(json.dumps(results))


def _run_backend(label: str, env_extra: dict, args) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench-concurrency-{label}-"))
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")},
        "LABELER_VAR_DIR": str(work / "var"),
        "DJANGO_SETTINGS_MODULE": "labeler.settings",
        "LOG_LEVEL": "ERROR",
        "DEBUG": "0",
        **env_extra,
    }
    manage(env, "bootstrap", "--no-demo")
    command = [
        sys.executable, __file__, "--child", "--annotators", str(args.annotators),
        "--submissions", str(args.submissions), "--overlap", *map(str, args.overlap),
    ]
    load_before = os.getloadavg()[0]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{label} run failed:\n{done.stderr[-3000:]}")
    return {
        "loadavg_1m": {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)},
        "runs": json.loads(done.stdout.strip().splitlines()[-1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--overlap", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    output: dict = {
        "benchmark": "concurrent annotators: claim + submit through the REST views, one thread per annotator",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"nproc": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
    }
    if args.backend in ("sqlite", "all"):
        log("sqlite")
        output["sqlite"] = _run_backend("sqlite", {}, args)
    if args.backend in ("postgres", "all"):
        pg = Postgres(args.pg_url, f"bench_concurrency_{os.getpid()}")
        try:
            log("postgres")
            output["postgres"] = {"server": f"PostgreSQL {pg.version()}", **_run_backend("postgres", {"DATABASE_URL": pg.create()}, args)}
        finally:
            pg.drop()
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
