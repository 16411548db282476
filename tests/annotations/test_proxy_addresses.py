"""Behind a proxy, every request reaches the web process from the proxy's address. With
LABELER_BEHIND_PROXY set, `manage.py serve` takes the client's address from
X-Forwarded-For, so the failed-login limit locks out one client, not everyone; without
it the header is ignored, since any client could forge it."""
import os
import re
import time

import httpx
import pytest

from bench.loop_latency import Processes, free_port, manage

CREATE_ANN = "from django.contrib.auth.models import User; User.objects.create_user('ann', password='ann-pw')"
ATTACKER, NEIGHBOUR = "198.51.100.1", "198.51.100.2"  # documentation addresses


@pytest.fixture(scope="module")
def var_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("proxy")
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "LABELER_BEHIND_PROXY")},
        "LABELER_VAR_DIR": str(root / "var"),
        "DJANGO_SETTINGS_MODULE": "labeler.settings",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
    }
    manage(env, "bootstrap", "--no-demo", timeout=120)
    manage(env, "shell", "-c", CREATE_ANN, timeout=60)
    return root, env


def _serve(root, env, behind_proxy: bool):
    procs = Processes(root)
    port = free_port()
    procs.start(f"web-{behind_proxy}", {**env, "LABELER_BEHIND_PROXY": "1" if behind_proxy else "0"},
                "serve", "--no-worker", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        procs.check()
        try:
            if httpx.get(f"{base}/login/", timeout=2).status_code == 200:
                return procs, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            procs.stop_all()
            raise RuntimeError(procs.tails())
        time.sleep(0.3)


def _wrong_password(base: str, address: str) -> int:
    with httpx.Client(base_url=base, headers={"X-Forwarded-For": address}, timeout=10) as client:
        page = client.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = client.post("/login/", data={"username": "ann", "password": "wrong", "csrfmiddlewaretoken": token},
                             headers={"Referer": f"{base}/login/"})
        return answer.status_code


def _lock_out_then_try_neighbour(root, env, behind_proxy: bool, username_suffix: str) -> tuple[list[int], int]:
    procs, base = _serve(root, env, behind_proxy)
    try:
        attacker = [_wrong_password(base, ATTACKER + username_suffix) for _ in range(5)]
        return attacker, _wrong_password(base, NEIGHBOUR + username_suffix)
    finally:
        procs.stop_all()


def test_behind_a_proxy_only_the_failing_client_is_locked_out(var_env):
    root, env = var_env
    attacker, neighbour = _lock_out_then_try_neighbour(root, env, behind_proxy=True, username_suffix="")
    assert attacker == [200, 200, 200, 200, 429]
    assert neighbour == 200, "another client behind the same proxy can still log in"


def test_without_the_setting_a_forged_header_does_not_dodge_the_limit(var_env):
    root, env = var_env
    manage(env, "shell", "-c", "from axes.models import AccessAttempt; AccessAttempt.objects.all().delete()", timeout=60)
    attacker, neighbour = _lock_out_then_try_neighbour(root, env, behind_proxy=False, username_suffix="9")
    assert attacker == [200, 200, 200, 200, 429]
    assert neighbour == 429, "X-Forwarded-For is ignored: both attempts come from 127.0.0.1"
