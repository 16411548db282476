"""Import and export of 1,000,000 text rows, and COCO export of 100,000 images, through
the web process, with its peak memory.

Starts the server as users run it in production mode for a separate worker
(`manage.py serve --no-worker`, granian; the rounds an import asks for wait in the queue
and do not run beside the measurement), on SQLite or on `--database-url`. Then:
- import: a `--rows`-row JSONL file, every row labeled, uploaded to the import endpoint
  (multipart, streamed from disk); rows per second;
- export: the labeled rows as JSONL, read to the end; seconds and rows per second, and
  the seconds until the response's headers (the export is written whole before they are
  sent, so the rest is the transfer);
- COCO export: a detection project of `--coco-images` labeled images with
  `--boxes-per-image` boxes each, written straight into the database before the server
  starts (items with media paths and sizes, one imported answer each; COCO reads no
  image file), exported as COCO JSON, read to the end and counted.
The web process's resident memory (with its children) is sampled every 50 ms during
each; the peak is reported. Prints one JSON object.

    .venv/bin/python bench/import_export.py [--rows 1000000] [--coco-images 100000] [--database-url postgres://...]

`--reuse DIR` keeps the data directory (and the database it names) in DIR: the first
run imports as above; later runs find DIR/state.json and only export the rows imported
then (`--exports N` times, each in a fresh server). Run a copy of this script placed in
another checkout's bench/ to export the same database with that checkout's code.
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


# Run by `manage.py shell`: a detection project of IMAGES labeled images, BOXES boxes each.
CREATE_IMAGE_PROJECT = """
from annotations.models import Annotation, Item, LabelClass, Ontology, Project, Region
ontology = Ontology.objects.create(name="COCO bench")
classes = [LabelClass.objects.create(ontology=ontology, key=k, name=k, order=n) for n, k in enumerate(("cat", "dog"))]
project = Project.objects.create(name="COCO bench", ontology=ontology, kind=Project.Kind.DETECTION)
for start in range(0, IMAGES, 5000):
    items = Item.objects.bulk_create([
        Item(project=project, media=f"items/{project.pk}/{n:07d}.jpg", width=640, height=480,
             status=Item.Status.LABELED, final_class=None)
        for n in range(start, min(start + 5000, IMAGES))
    ])
    answers = Annotation.objects.bulk_create([
        Annotation(project=project, item=item, source=Annotation.Source.IMPORT) for item in items
    ])
    Region.objects.bulk_create([
        Region(annotation=answer, label_class=classes[(answer.item_id + b) % 2], kind="box", order=b,
               geometry={"box": [0.05 + 0.2 * b, 0.1, 0.15, 0.3 + 0.1 * b]})
        for answer in answers for b in range(BOXES)
    ])
print(project.pk)
"""


def write_rows(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for n in range(rows):
            label = "positive" if n % 3 else "negative"
            out.write(json.dumps({"text": f"Imported review number {n}: the room was {label} and the staff kind.",
                                  "label": label}) + "\n")


def wait_until_serving(client: httpx.Client) -> None:
    for _ in range(600):
        try:
            if client.get("/api/projects/").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not answer")


def measure_import(client: httpx.Client, server_pid: int, data: Path, rows: int) -> tuple[str, dict]:
    project = client.post("/api/projects/", json={"name": "Import bench"}).json()
    url = f"/api/projects/{project['id']}/"
    log("importing")
    with PeakMemory(server_pid) as memory, data.open("rb") as upload:
        started = time.perf_counter()
        response = client.post(url + "import/", files={"file": ("rows.jsonl", upload, "application/x-ndjson")},
                               data={"text_field": "text", "label_field": "label", "split": "pool"})
        seconds = time.perf_counter() - started
    if response.status_code != 201:
        raise SystemExit(f"import failed: {response.status_code} {response.text[:500]}")
    return url, {"seconds": round(seconds, 1), "rows_per_s": round(rows / seconds),
                 "web_baseline_mb": round(memory.baseline_mb, 1), "web_peak_mb": memory.peak_mb,
                 "response": response.json()}


def measure_export_jsonl(client: httpx.Client, server_pid: int, url: str) -> dict:
    log("exporting JSONL")
    with PeakMemory(server_pid) as memory:
        started = time.perf_counter()
        lines = 0
        with client.stream("GET", url + "export/?export_format=jsonl") as stream:
            headers_s = time.perf_counter() - started
            for line in stream.iter_lines():
                lines += bool(line)
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 1), "rows": lines, "rows_per_s": round(lines / seconds),
            "headers_s": round(headers_s, 1),
            "web_baseline_mb": round(memory.baseline_mb, 1), "web_peak_mb": memory.peak_mb}


def measure_export_coco(client: httpx.Client, server_pid: int, project_id: int) -> dict:
    log("exporting COCO")
    body = tempfile.TemporaryFile()
    with PeakMemory(server_pid) as memory:
        started = time.perf_counter()
        with client.stream("GET", f"/api/projects/{project_id}/export/?export_format=coco") as stream:
            if stream.status_code != 200:
                raise SystemExit(f"COCO export failed: {stream.status_code} {stream.read()[:500]}")
            for block in stream.iter_bytes():
                body.write(block)
        seconds = time.perf_counter() - started
    size = body.tell()
    body.seek(0)
    coco = json.load(body)
    return {"seconds": round(seconds, 1), "mb": round(size / 2**20, 1), "images": len(coco["images"]),
            "annotations": len(coco["annotations"]),
            "web_baseline_mb": round(memory.baseline_mb, 1), "web_peak_mb": memory.peak_mb}


def export_again(env: dict, work: Path, state: dict, args) -> None:
    """The JSONL export of the rows a first `--reuse` run imported, `--exports` times,
    each in a fresh server of this checkout."""
    result = {"bench": "import_export --reuse", "rows": state["rows"], "checkout": str(REPO),
              "server": "manage.py serve --no-worker (granian)", "database": "postgresql" if args.database_url else "sqlite",
              "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "exports": []}
    for _ in range(args.exports):
        port = free_port()
        processes = Processes(work)
        server = processes.start("web", env, "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port))
        load = os.getloadavg()
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Token {state['token']}"},
                              timeout=3600) as client:
                wait_until_serving(client)
                exported = measure_export_jsonl(client, server.pid, state["url"])
        finally:
            processes.stop_all()
        result["exports"].append({**exported, "load_before": load, "load_after": os.getloadavg()})
    print(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="0 skips the text import and export")
    parser.add_argument("--coco-images", type=int, default=100_000, help="0 skips the COCO export")
    parser.add_argument("--boxes-per-image", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--reuse", default="", help="a directory kept between runs; see above")
    parser.add_argument("--exports", type=int, default=1, help="with --reuse, exports of the kept rows")
    args = parser.parse_args()
    if args.reuse:
        work = Path(args.reuse).resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="labeler-io-"))
    env = {**os.environ, "LABELER_VAR_DIR": str(work / "var"), "DJANGO_SETTINGS_MODULE": "labeler.settings",
           "HUEY_NAME": f"labeler-io-{os.getpid()}"}
    env.pop("REDIS_URL", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        env.pop("DATABASE_URL", None)
    state_file = work / "state.json"
    if args.reuse and state_file.exists():
        export_again(env, work, json.loads(state_file.read_text()), args)
        return
    log("bootstrap")
    manage(env, "bootstrap", "--no-demo")
    token = manage(env, "shell", "-c", CREATE_USER).strip().splitlines()[-1]
    data = work / "rows.jsonl"
    log(f"writing {args.rows:,} rows")
    write_rows(data, args.rows)
    coco_project = None
    if args.coco_images:
        log(f"writing {args.coco_images:,} labeled images")
        script = f"IMAGES = {args.coco_images}\nBOXES = {args.boxes_per_image}\n{CREATE_IMAGE_PROJECT}"
        coco_project = int(manage(env, "shell", "-c", script, timeout=3600).strip().splitlines()[-1])
    port = free_port()
    processes = Processes(work)
    server = processes.start("web", env, "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port))
    result = {"bench": "import_export", "rows": args.rows, "file_mb": round(data.stat().st_size / 2**20, 1),
              "coco_images": args.coco_images, "boxes_per_image": args.boxes_per_image,
              "server": "manage.py serve --no-worker (granian)", "database": "postgresql" if args.database_url else "sqlite",
              "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "load_before": os.getloadavg()}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Token {token}"},
                          timeout=3600) as client:
            wait_until_serving(client)
            if args.rows:
                url, result["import"] = measure_import(client, server.pid, data, args.rows)
                if args.reuse:
                    state_file.write_text(json.dumps({"token": token, "url": url, "rows": args.rows}))
                result["export_jsonl"] = measure_export_jsonl(client, server.pid, url)
            if coco_project:
                result["export_coco"] = measure_export_coco(client, server.pid, coco_project)
    finally:
        processes.stop_all()
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
