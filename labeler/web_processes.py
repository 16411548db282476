"""Several web processes on one port: `manage.py serve --processes N`.

One Python process runs Python code on one core at a time. This one opens the listening
socket and starts N `serve` processes that share it (the kernel hands each new
connection to one of them); the first also runs the job workers. Events reach the pages
of every process through the channel layer (Redis, or labeler/fanout_layer.py in
embedded mode). A process that exits is started again, unless it exits within
`EARLY_EXIT_S` of its start: then something is wrong with the set-up, and all stop.
"""
import logging
import signal
import socket
import subprocess
import threading
import time

logger = logging.getLogger(__name__)

EARLY_EXIT_S = 15
STOP_TIMEOUT_S = 30


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host.strip("[]"), port), family=family, backlog=1024, reuse_port=False)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """Starts the commands (each given the socket's descriptor), starts again one that
    exits, stops them all on SIGTERM or SIGINT."""

    def __init__(self, commands: list[list[str]], sock: socket.socket):
        self.commands = commands
        self.sock = sock
        self.stopping = threading.Event()
        self.children: list[tuple[subprocess.Popen, float]] = []

    def _start(self, command: list[str]) -> tuple[subprocess.Popen, float]:
        return subprocess.Popen(command, pass_fds=(self.sock.fileno(),)), time.monotonic()

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        self.children = [self._start(command) for command in self.commands]
        code = 0
        try:
            while not self.stopping.wait(0.5):
                for index, (child, started) in enumerate(self.children):
                    exited = child.poll()
                    if exited is None or self.stopping.is_set():  # Ctrl-C reaches the children too
                        continue
                    if time.monotonic() - started < EARLY_EXIT_S:
                        logger.error("web process %d exited with %s at start; stopping", child.pid, exited)
                        code = exited or 1
                        self.stopping.set()
                        break
                    logger.error("web process %d exited with %s; starting it again", child.pid, exited)
                    self.children[index] = self._start(self.commands[index])
        finally:
            self._stop_all()
        return code

    def _stop_all(self) -> None:
        for child, _ in self.children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child, _ in self.children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
