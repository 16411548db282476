"""The embedded mode's channel layer (labeler/fanout_layer.py): a group send reaches the
group's pages in this process and in every other process of the installation."""
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from labeler.fanout_layer import FanOutChannelLayer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def directory():
    path = Path(tempfile.mkdtemp(prefix="layer-"))  # short: socket paths are limited to 108 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def _joined(layer: FanOutChannelLayer, group: str = "project-1") -> str:
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


async def _received(layer: FanOutChannelLayer, channel: str, timeout: float = 5) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout)


@pytest.mark.asyncio
async def test_a_group_send_reaches_the_group_in_this_and_the_other_layers(directory):
    here, there = FanOutChannelLayer(directory=str(directory)), FanOutChannelLayer(directory=str(directory))
    mine, theirs = await _joined(here), await _joined(there)
    message = {"type": "project.event", "event": {"type": "batch.ready", "project": 1, "round": 3, "items": [1, 2]}}
    await here.group_send("project-1", message)
    assert await _received(here, mine) == message
    assert await _received(there, theirs) == message
    await there.group_send("project-2", {"type": "project.event", "event": {}})  # another group: nobody
    with pytest.raises(asyncio.TimeoutError):
        await _received(here, mine, timeout=0.3)


@pytest.mark.asyncio
async def test_a_process_without_pages_only_sends(directory):
    sender, listener = FanOutChannelLayer(directory=str(directory)), FanOutChannelLayer(directory=str(directory))
    channel = await _joined(listener)
    await sender.group_send("project-1", {"type": "project.event", "event": {"n": 1}})
    assert sender.address is None and [p.name for p in directory.iterdir()] == [listener.address.name]
    assert (await _received(listener, channel))["event"] == {"n": 1}


@pytest.mark.asyncio
async def test_a_socket_left_by_a_process_that_died_is_removed(directory):
    dead = directory / "4242-deadbeef.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(dead))
    stale.close()  # the file stays, nobody reads it
    layer = FanOutChannelLayer(directory=str(directory))
    channel = await _joined(layer)
    await layer.group_send("project-1", {"type": "project.event", "event": {}})
    assert not dead.exists()
    assert await _received(layer, channel) == {"type": "project.event", "event": {}}


@pytest.mark.asyncio
async def test_an_event_sent_by_another_process_reaches_this_ones_pages(directory):
    layer = FanOutChannelLayer(directory=str(directory))
    channel = await _joined(layer)
    script = textwrap.dedent(f"""
        import asyncio
        from labeler.fanout_layer import FanOutChannelLayer
        layer = FanOutChannelLayer(directory={str(directory)!r})
        asyncio.run(layer.group_send("project-1", {{"type": "project.event", "event": {{"type": "progress.changed"}}}}))
    """)
    worker = await asyncio.create_subprocess_exec(sys.executable, "-c", script, cwd=REPO)
    assert await asyncio.wait_for(worker.wait(), 60) == 0
    assert (await _received(layer, channel))["event"] == {"type": "progress.changed"}


def test_the_socket_goes_when_its_process_ends(directory):
    script = textwrap.dedent(f"""
        import asyncio
        from labeler.fanout_layer import FanOutChannelLayer
        layer = FanOutChannelLayer(directory={str(directory)!r})
        async def main():
            await layer.group_add("project-1", await layer.new_channel())
            print(layer.address.exists())
        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True" and list(directory.iterdir()) == []
