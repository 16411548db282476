"""Time from `make run` (with the virtual environment already built) to the first 200.

Starts `make run` on a free port with a fresh var dir (so bootstrap migrates, creates
the demo project and logins, as on a first run) and, separately, again on the same var
dir (a restart); each time polls /login/ until it answers 200. Prints one JSON object.

    .venv/bin/python bench/startup.py [--repeat 3]
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIMIT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_200(var_dir: Path) -> float:
    port = free_port()
    env = {**os.environ, "LABELER_VAR_DIR": str(var_dir), "PORT": str(port)}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    started = time.perf_counter()
    process = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while time.perf_counter() - started < LIMIT_S:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"no 200 within {LIMIT_S} s")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    first, restart = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="labeler-start-") as folder:
            first.append(round(first_200(Path(folder)), 2))
            restart.append(round(first_200(Path(folder)), 2))
    print(json.dumps({
        "bench": "startup", "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load": os.getloadavg(), "first_run_s": first, "restart_s": restart,
        "first_run_median_s": sorted(first)[len(first) // 2], "restart_median_s": sorted(restart)[len(restart) // 2],
    }, indent=1))


if __name__ == "__main__":
    main()
