"""CPU time and SQL statements per next-task (claim) and submit, in-process.

The HTTP benchmark (bench/http_latency.py) measures what an annotator waits; on a
shared two-core machine its figures move with the load. This one runs the same
requests through Django's whole request path in one process (DRF's APIClient with
the annotator's token, no server) and reports the process's CPU time per request,
which load barely moves, and the statements each request sends. It is the figure to
compare code versions with: run it for each checkout against copies of one database.

    .venv/bin/python bench/request_cpu.py --db /tmp/1m.sqlite3 [--items 1000000] [--pairs 200]
        [--repo PATH]   # measure the code of another checkout (with the same database)

The first run builds `--db` (migrated, `--items` unlabeled text items, one annotator
with a token) and keeps it; every run measures a copy, so runs start from the same
state. Prints one JSON object to stdout; progress goes to stderr.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict:
    return {"n": len(values), **{f"p{q}": round(percentile(values, q) * 1000, 2) for q in (50, 95)},
            "mean": round(sum(values) / len(values) * 1000, 2)}


def setup_django(repo: Path, var_dir: Path) -> None:
    os.environ["LABELER_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
    os.chdir(repo)
    sys.path.insert(0, str(repo))
    import django

    django.setup()


def build(db: Path, items: int) -> None:
    """Migrate a fresh database at `db` and write the project; runs in a child process."""
    import subprocess

    var = db.parent / f"{db.stem}-var"
    var.mkdir(parents=True, exist_ok=True)
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); "
        f"from request_cpu import _build_here; _build_here({items})"
    )
    env = {**os.environ, "LABELER_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "labeler.settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=HERE.parent, env=env, check=True)
    subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code], cwd=HERE.parent, env=env, check=True)
    shutil.move(var / "labeler.sqlite3", db)


def _build_here(items: int) -> None:
    sys.path.insert(0, str(HERE.parent))
    from bench.http_latency import build as build_project

    build_project(items, annotators=1)


def measure(pairs: int, show_sql: bool = False) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from annotations.models import Project

    project = Project.objects.get(name="HTTP latency")
    token = Token.objects.select_related("user").first()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    claim_url = f"/api/projects/{project.pk}/tasks/claim/"
    submit_url = f"/api/projects/{project.pk}/annotations/"
    cpu = {"claim": [], "submit": []}
    statements = {"claim": [], "submit": []}

    def timed(kind: str, url: str, body: dict, record: bool):
        with CaptureQueriesContext(connection) as queries:
            t0 = time.process_time()
            response = client.post(url, body, format="json")
            spent = time.process_time() - t0
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{kind} answered {response.status_code}: {response.content[:300]!r}")
        if show_sql and record and not statements[kind]:
            print(f"-- {kind}: {len(queries.captured_queries)} statements", file=sys.stderr)
            for query in queries.captured_queries:
                print(f"{query['sql'][:400]}", file=sys.stderr)
        if record:
            cpu[kind].append(spent)
            statements[kind].append(len(queries.captured_queries))
        return response.json()

    for n in range(pairs + 20):  # the first 20 warm caches and are not counted
        record = n >= 20
        data = timed("claim", claim_url, {"want": 2}, record)
        item = data["tasks"][0]["item"]
        timed("submit", submit_url, {"item": item, "label": "positive", "client_id": str(uuid.uuid4())}, record)
    return {
        kind: {"cpu_ms": summary(cpu[kind]), "statements": max(set(statements[kind]), key=statements[kind].count)}
        for kind in cpu
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the prebuilt SQLite database (built when missing)")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--show-sql", action="store_true", help="print one claim's and one submit's statements to stderr")
    parser.add_argument("--repo", type=Path, default=HERE.parent, help="the checkout whose code is measured")
    args = parser.parse_args()
    if not args.db.exists():
        print(f"building {args.db} with {args.items:,} items", file=sys.stderr)
        build(args.db, args.items)
    with tempfile.TemporaryDirectory(prefix="request-cpu-") as work:
        var = Path(work)
        shutil.copy(args.db, var / "labeler.sqlite3")
        (var / "secret_key").write_text("request-cpu-bench")
        setup_django(args.repo.resolve(), var)
        result = measure(args.pairs, args.show_sql)
    print(json.dumps({"repo": str(args.repo.resolve()), "pairs": args.pairs, **result,
                      "load_1min": round(os.getloadavg()[0], 1)}))


if __name__ == "__main__":
    main()
