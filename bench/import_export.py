"""Import and export of 1,000,000 text rows through the web process, with its peak memory.

Starts the server as users run it in production mode for a separate worker
(`manage.py serve --no-worker`, daphne; the rounds an import asks for wait in the queue
and do not run beside the measurement), on SQLite or on `--database-url`. Then:
- import: a `--rows`-row JSONL file, every row labeled, uploaded to the import endpoint
  (multipart, streamed from disk); rows per second;
- export: the labeled rows as JSONL, read to the end; seconds and rows per second.
The web process's resident memory (with its children) is sampled every 50 ms during
each; the peak is reported. Prints one JSON object.

    .venv/bin/python bench/import_export.py [--rows 1000000] [--database-url postgres://...]
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from loop_latency import CREATE_USER, Processes, free_port, log, manage  # noqa: E402


class PeakMemory:
    """Samples a process tree's RSS in a thread; `peak_mb` after `stop()`."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.05)

    def __enter__(self):
        self.baseline_mb = self._rss() / 2**20
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)


def write_rows(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for n in range(rows):
            label = "positive" if n % 3 else "negative"
            out.write(json.dumps({"text": f"Imported review number {n}: the room was {label} and the staff kind.",
                                  "label": label}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labeler-io-"))
    env = {**os.environ, "LABELER_VAR_DIR": str(work / "var"), "DJANGO_SETTINGS_MODULE": "labeler.settings",
           "HUEY_NAME": f"labeler-io-{os.getpid()}"}
    env.pop("REDIS_URL", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        env.pop("DATABASE_URL", None)
    log("bootstrap")
    manage(env, "bootstrap", "--no-demo")
    token = manage(env, "shell", "-c", CREATE_USER).strip().splitlines()[-1]
    data = work / "rows.jsonl"
    log(f"writing {args.rows:,} rows")
    write_rows(data, args.rows)
    port = free_port()
    processes = Processes(work)
    server = processes.start("web", env, "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Token {token}"}
    result = {"bench": "import_export", "rows": args.rows, "file_mb": round(data.stat().st_size / 2**20, 1),
              "server": "manage.py serve --no-worker (daphne)", "database": "postgresql" if args.database_url else "sqlite",
              "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "load_before": os.getloadavg()}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=3600) as client:
            for _ in range(200):
                try:
                    if client.get("/api/projects/").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            project = client.post("/api/projects/", json={"name": "Import bench"}).json()
            url = f"/api/projects/{project['id']}/"
            log("importing")
            with PeakMemory(server.pid) as memory, data.open("rb") as upload:
                started = time.perf_counter()
                response = client.post(url + "import/", files={"file": ("rows.jsonl", upload, "application/x-ndjson")},
                                       data={"text_field": "text", "label_field": "label", "split": "pool"})
                seconds = time.perf_counter() - started
            if response.status_code != 201:
                raise SystemExit(f"import failed: {response.status_code} {response.text[:500]}")
            result["import"] = {"seconds": round(seconds, 1), "rows_per_s": round(args.rows / seconds),
                                "web_baseline_mb": round(memory.baseline_mb, 1), "web_peak_mb": memory.peak_mb,
                                "response": response.json()}
            log("exporting")
            with PeakMemory(server.pid) as memory:
                started = time.perf_counter()
                lines = 0
                with client.stream("GET", url + "export/?export_format=jsonl") as stream:
                    for line in stream.iter_lines():
                        lines += bool(line)
                seconds = time.perf_counter() - started
            result["export_jsonl"] = {"seconds": round(seconds, 1), "rows": lines, "rows_per_s": round(lines / seconds),
                                      "web_baseline_mb": round(memory.baseline_mb, 1), "web_peak_mb": memory.peak_mb}
    finally:
        processes.stop_all()
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
