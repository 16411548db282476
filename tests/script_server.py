"""A server written as a Python script, run in a child process for a test that watches
its memory from outside."""
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import psutil

from bench.loop_latency import free_port


@contextmanager
def script_server(script: str, *args: str, client_timeout: float = 30):
    """Run `script` with argv (port, *args); yield its process and a connection to it once
    it listens. The script is stopped afterwards."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", script, str(port), *args])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client = socket.create_connection(("127.0.0.1", port), timeout=client_timeout)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        with client:
            yield psutil.Process(server.pid), client
    finally:
        server.terminate()
        server.wait(timeout=10)
