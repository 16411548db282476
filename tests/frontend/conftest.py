"""Browser tests against the real server, started the way users start it: `manage.py
bootstrap` then `manage.py serve` (granian with the job workers in-process), in a
temporary var dir, driven by Debian's headless Chromium through Playwright.

One server per session; each test gets a fresh browser context and logs in through the
login page. Test modules run in name order, and test_labeling_workspace.py runs first
on purpose: its first test counts the ten labels that start a round from zero.
"""
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from playwright import sync_api

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LABELER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHARED_SENTIMENT = REPO.parent / "shared" / "datasets" / "sentiment_labelled_sentences"
DEMO_PROJECT = "Demo: review sentiment"
PASSWORDS = {
    "admin": "admin-demo-pass",
    "reviewer": "reviewer-demo-pass",
    "annotator": "annotator-demo-pass",
    "annotator2": "annotator2-demo-pass",
}
TIMEOUT_MS = 30_000

sync_api.expect.set_options(timeout=15_000)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The embedded mode on its own files: no shared database, broker or immediate jobs.
    for name in ("HUEY_IMMEDIATE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "LABELER_SENTIMENT_DIR"):
        env.pop(name, None)
    env["LABELER_VAR_DIR"] = str(var_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # a hung server dumps its threads on SIGABRT
    env["DJANGO_SETTINGS_MODULE"] = "labeler.settings"
    if SHARED_SENTIMENT.is_dir():
        env["LABELER_SENTIMENT_DIR"] = str(SHARED_SENTIMENT)
    return env


class ApiClient:
    """A logged-in session for the fixtures' own checks (urllib, no browser)."""

    def __init__(self, base_url: str, username: str):
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.open(f"{base_url}/login/", timeout=10).read()
        form = {"username": username, "password": PASSWORDS[username], "csrfmiddlewaretoken": self._csrf()}
        request = urllib.request.Request(f"{base_url}/login/", data=urllib.parse.urlencode(form).encode())
        self.opener.open(request, timeout=10).read()
        if not any(cookie.name == "sessionid" for cookie in self.jar):
            raise RuntimeError(f"could not log in as {username}")

    def _csrf(self) -> str:
        return next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")

    def get(self, path: str):
        with self.opener.open(f"{self.base_url}{path}", timeout=10) as response:
            return json.loads(response.read())

    def post(self, path: str, data: dict | None = None):
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=json.dumps(data or {}).encode(), method="POST",
            headers={"Content-Type": "application/json", "X-CSRFToken": self._csrf()},
        )
        with self.opener.open(request, timeout=10) as response:
            return json.loads(response.read())


def _wait_for_login_page(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/login/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer on {url} in {timeout} s:\n{log_path.read_text()[-3000:]}")


def wait_for_idle_jobs(client: ApiClient, project_id: int, timeout: float = 30) -> None:
    """Until the project has a round and no job queued or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = client.get(f"/api/projects/{project_id}/jobs/")
        rounds = client.get(f"/api/projects/{project_id}/rounds/")
        if rounds and not any(job["state"] in ("queued", "running") for job in jobs):
            return
        time.sleep(0.2)
    raise RuntimeError(f"jobs still busy after {timeout} s: {jobs}")


def _stop(process: subprocess.Popen, log_path: Path) -> None:
    # Let requests of the pages just closed finish first: the server stops its loop on
    # SIGTERM, and a sync view still in flight then keeps the interpreter from exiting.
    time.sleep(0.5)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # faulthandler writes every thread's stack to the log
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        print(f"the server ignored SIGTERM; the end of its log:\n{log_path.read_text()[-8000:]}")


class LiveServer:
    def __init__(self, url: str, project_id: int, admin: ApiClient, var_dir: Path):
        self.url = url
        self.project_id = project_id
        self.admin = admin
        self.var_dir = var_dir


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("labeler-var")
    env = _server_env(var_dir)
    manage = str(REPO / "manage.py")
    bootstrap = subprocess.run(
        [sys.executable, manage, "bootstrap"], cwd=var_dir, env=env, capture_output=True, text=True, timeout=180
    )
    assert bootstrap.returncode == 0, f"bootstrap failed:\n{bootstrap.stdout}\n{bootstrap.stderr}"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = var_dir / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, manage, "serve", "--port", str(port)],
            cwd=var_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_login_page(url, process, log_path)
            admin = ApiClient(url, "admin")
            projects = admin.get("/api/projects/?limit=100")["results"]
            project_id = next(p["id"] for p in projects if p["name"] == DEMO_PROJECT)
            wait_for_idle_jobs(admin, project_id)  # the round that bootstrap asked for
            yield LiveServer(url, project_id, admin, var_dir)
        finally:
            _stop(process, log_path)


@pytest.fixture(scope="package")
def browser():
    """Chromium for this package's tests. Stopped when they are done: Playwright's sync
    API keeps an event loop marked running, and the async tests after them need none."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make chromium` (Debian's chromium package) or set LABELER_CHROMIUM")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_server):
    """A fresh context and page; uncaught script errors fail the test."""
    context = browser.new_context(base_url=app_server.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def login(page, username: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORDS[username])
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def number(text: str) -> int:
    return int(text.replace(",", "").strip())
