"""`make run` runs `manage.py serve --bootstrap`: on a fresh var dir one process creates
the key, the schema, the demo project and its logins, then serves; a login made then
still holds after a restart (the session is signed with the stored key)."""
import os
import re

import httpx

from bench.http_latency import wait_until_listening
from bench.loop_latency import Processes, free_port


def _serve_fresh(root, env, *extra: str) -> tuple[Processes, str]:
    procs = Processes(root)
    port = free_port()
    procs.start(f"web-{port}", env, "serve", *extra, "--no-worker", "--port", str(port))
    try:
        wait_until_listening(port, procs, timeout=180)
    except RuntimeError:
        procs.stop_all()
        raise RuntimeError(procs.tails()) from None
    return procs, f"http://127.0.0.1:{port}"


def test_serve_with_bootstrap_starts_a_fresh_machine_with_the_demo_and_keeps_logins_across_restarts(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")},
        "LABELER_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "labeler.settings",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
    }
    procs, base = _serve_fresh(tmp_path, env, "--bootstrap")
    try:
        assert (tmp_path / "var" / "secret_key").exists()
        with httpx.Client(base_url=base, timeout=30) as client:
            page = client.get("/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            answer = client.post("/login/", data={"username": "annotator", "password": "annotator-demo-pass",
                                                  "csrfmiddlewaretoken": token}, headers={"Referer": f"{base}/login/"})
            assert answer.status_code == 302, answer.text[:500]
            listed = client.get("/api/projects/").json()
            names = [p["name"] for p in (listed["results"] if isinstance(listed, dict) else listed)]
            assert "Demo: review sentiment" in names
            cookies = dict(client.cookies)
    finally:
        procs.stop_all()

    procs, base = _serve_fresh(tmp_path, env)
    try:
        with httpx.Client(base_url=base, timeout=30, cookies=cookies) as client:
            assert client.get("/api/projects/").status_code == 200, "the login made before the restart still holds"
    finally:
        procs.stop_all()
