"""Resident memory of the web process (`manage.py serve --no-worker`, granian) on a large project.

Two measurements:
- imports: a fresh interpreter runs django.setup() and imports the URLconf, the ASGI
  application and the websocket routing, as the server does before its first request;
  it reports its RSS and which of the heavy libraries (`HEAVY`) got loaded;
- server: a project of `--items` unlabeled text items is written with bulk inserts, then
  the server starts on a fresh var dir and its RSS is read once it listens, after the
  login page answers, and after `--labels` claim-and-submit pairs through the API, as
  an annotator's page makes them.

    .venv/bin/python bench/web_memory.py [--items 1000000] [--labels 20]

Prints one JSON object to stdout; progress goes to stderr.
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.http_latency import Annotator, build, wait_until_listening  # noqa: E402
from bench.loop_latency import Processes, free_port, log, manage  # noqa: E402

# Libraries the web process has no use for: the worker trains and scores with them, and
# a few endpoints (agreement report, vision exports) import them when first asked.
HEAVY = ("scipy", "sklearn", "pandas", "polars", "statsmodels", "krippendorff", "joblib", "torch", "torchvision",
         "matplotlib", "cv2", "ultralytics", "transformers", "sentence_transformers")

_IMPORTS = """
import json, sys
import django, psutil
django.setup()
import labeler.asgi, labeler.routing, labeler.urls
heavy = sorted(name for name in json.loads(sys.argv[1]) if name in sys.modules)
print(json.dumps({"heavy": heavy, "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1)}))
"""


def web_imports(env: dict | None = None) -> dict:
    """What the web process has loaded before its first request: heavy libraries and RSS."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "labeler.settings", "LOG_LEVEL": "WARNING", **(env or {})}
    done = subprocess.run([sys.executable, "-c", _IMPORTS, json.dumps(HEAVY)], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    total = sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
    return round(total / 2**20, 1)


def get_status(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path)
    status = connection.getresponse().status
    connection.close()
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=20)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-web-memory-"))
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "HUEY_IMMEDIATE")},
        "LABELER_VAR_DIR": str(work / "var"),
        "DJANGO_SETTINGS_MODULE": "labeler.settings",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
    }
    result = {"bench": "web_memory", "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "server": "manage.py serve --no-worker (granian)", "database": "sqlite", "items": args.items,
              "load_before": os.getloadavg()[0]}
    log("imports")
    result["imports"] = web_imports(env)
    procs = Processes(work)
    try:
        manage(env, "bootstrap", "--no-demo")
        os.environ.update(env)
        import django

        django.setup()
        log(f"building {args.items:,} items")
        project, tokens = build(args.items, 1)
        port = free_port()
        server = procs.start("serve", env, "serve", "--no-worker", "--port", str(port))
        wait_until_listening(port, procs)
        server_mb = {"listening": rss_mb(server.pid)}
        status = get_status(port, "/login/")
        if status != 200:
            raise RuntimeError(f"/login/ answered {status}")
        server_mb["after_login_page"] = rss_mb(server.pid)
        annotator = Annotator(port, tokens[0], project, keep_alive=True)
        for _ in range(args.labels):
            annotator.step()
        server_mb[f"after_{args.labels}_claims_and_submits"] = rss_mb(server.pid)
        procs.check()
        result["server_rss_mb"] = server_mb
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    result["load_after"] = os.getloadavg()[0]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
