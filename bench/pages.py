"""Server time of the project list, the project dashboard and the review queue at
1,000,000 items: each page and the API call that fills it.

Uses the project `bench/dashboard.py` builds (same options, same database), then sends
`--requests` requests to each URL through Django's test client, logged in as a staff
user, and prints one JSON object with p50 / p95 / max in milliseconds. The first request
of each URL is reported apart (`first_ms`) and counted in the percentiles too, so a
cache that only warms up would show.

    .venv/bin/python bench/pages.py [--items 1000000] [--requests 20] [--database-url postgres://...]

Progress goes to stderr.
"""
import argparse
import json
import math
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from dashboard import build, log, setup_django


def pages(project_id: int) -> dict[str, str]:
    return {
        "project_list_page": "/",
        "project_list_api": "/api/projects/",
        "dashboard_page": f"/projects/{project_id}/",
        "dashboard_api": f"/api/projects/{project_id}/dashboard/",
        "review_page": f"/projects/{project_id}/review/",
        "review_queue_api": f"/api/projects/{project_id}/review/queue/?limit=50",
    }


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def time_url(client, url: str, requests: int) -> dict:
    milliseconds = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        milliseconds.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    return {"first_ms": round(milliseconds[0], 1), "p50_ms": round(statistics.median(milliseconds), 1),
            "p95_ms": round(percentile(milliseconds, 0.95), 1), "max_ms": round(max(milliseconds), 1), "n": requests}


def measure(project_id: int, requests: int) -> dict:
    from django.contrib.auth.models import User
    from django.test import Client

    admin, _ = User.objects.get_or_create(username="bench-pages-admin", defaults={"is_staff": True})
    client = Client()
    client.force_login(admin)
    results = {}
    for name, url in pages(project_id).items():
        log(f"timing {name} {url}")
        results[name] = time_url(client, url, requests)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL; default: a fresh SQLite file")
    parser.add_argument("--var-dir", default=None, help="keep the SQLite database here and reuse it next time")
    parser.add_argument("--project", type=int, default=None,
                        help="time this existing project of the database instead of building one")
    args = parser.parse_args()
    var_dir = Path(args.var_dir or tempfile.mkdtemp(prefix="labeler-pages-"))
    var_dir.mkdir(parents=True, exist_ok=True)
    setup_django(args.database_url, var_dir)
    from django.db import connection

    from annotations.models import Item, Project

    existing = Project.objects.filter(name="Dashboard bench").first()
    if args.project is not None:
        project_id = args.project
    elif existing is not None and Item.objects.filter(project=existing).count() == args.items:
        project_id = existing.pk
    else:
        project_id = build(args.items)
    if connection.vendor == "postgresql":
        # Statistics for the planner, and the visibility map that lets counts read the
        # index alone: what autovacuum gives a live database after a bulk load.
        log("VACUUM ANALYZE (as autovacuum would after a bulk load)")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(json.dumps({
        "bench": "pages", "items": args.items, "database": connection.vendor,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "load": os.getloadavg(),
        "pages": measure(project_id, args.requests),
    }, indent=1))


if __name__ == "__main__":
    main()
