"""`manage.py serve --processes 2` in embedded mode (SQLite, no Redis): two web processes
share one port, the first runs the jobs, a round's `batch.ready` reaches pages connected
to either process, and a web process that dies is started again."""
import asyncio
import json
import os
import signal
import time

import httpx
import psutil
import pytest
from websockets.asyncio.client import connect

from bench.loop_latency import Listener, Processes, _wait_until_up, free_port
from tests.activelearning.test_multiprocess import (
    _make_project,
    _wait_idle,
    bootstrapped_token,
    deployment_env,
    stopped_after,
)

MAX_PAGES = 40


@pytest.fixture
def two_processes(tmp_path):
    env = deployment_env(tmp_path, {}, drop=("DATABASE_URL", "REDIS_URL"))  # embedded: SQLite, no Redis
    token = bootstrapped_token(env)
    port = free_port()
    with stopped_after(Processes(tmp_path)) as procs:
        supervisor = procs.start("web", env, "serve", "--processes", "2", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base, token, procs, timeout=90)
        yield base, token, psutil.Process(supervisor.pid), port


def _pages_per_process(supervisor: psutil.Process, port: int) -> dict[int, int]:
    """Established connections on the port, per web process."""
    return {
        child.pid: sum(1 for c in child.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
        for child in supervisor.children()
    }


async def _exercise(base: str, token: str, supervisor: psutil.Process, port: int) -> None:
    headers = {"Authorization": f"Token {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        project = await _make_project(http)
        await _wait_idle(http, project)  # the import's own round
        sockets, listeners, readers = [], [], []
        try:
            # Pages open until each web process holds at least one (the kernel picks).
            while len(sockets) < MAX_PAGES and min(_pages_per_process(supervisor, port).values()) == 0:
                ws = await connect(base.replace("http://", "ws://") + f"/ws/projects/{project}/",
                                   additional_headers=headers, origin=base, open_timeout=30)
                sockets.append(ws)
                assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "hello"
                await asyncio.sleep(0.05)
            spread = _pages_per_process(supervisor, port)
            assert len(spread) == 2 and min(spread.values()) > 0, spread
            for ws in sockets:
                listeners.append(Listener(ws))
                readers.append(asyncio.create_task(listeners[-1].run()))
            before = len((await http.get(f"/api/projects/{project}/rounds/")).json())
            assert (await http.post(f"/api/projects/{project}/jobs/")).status_code == 202
            heard = await asyncio.gather(*(listener.wait_beyond(before, timeout=60) for listener in listeners))
            assert {number for number, _, _ in heard} == {before + 1}, heard
        finally:
            for task in readers:
                task.cancel()
            for ws in sockets:
                await ws.close()


def test_two_web_processes_share_the_port_and_every_page_hears_the_rounds(two_processes):
    base, token, supervisor, port = two_processes
    started = time.monotonic()
    asyncio.run(_exercise(base, token, supervisor, port))

    # A web process that dies (after its start) is started again; the other serves on.
    from labeler.web_processes import EARLY_EXIT_S

    time.sleep(max(0.0, EARLY_EXIT_S + 1 - (time.monotonic() - started)))
    first, second = supervisor.children()
    os.kill(second.pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = supervisor.children()
        if len(children) == 2 and second.pid not in {c.pid for c in children}:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the killed web process was not started again")
    for _ in range(20):
        assert httpx.get(f"{base}/api/projects/", headers={"Authorization": f"Token {token}"},
                         timeout=30).status_code == 200
