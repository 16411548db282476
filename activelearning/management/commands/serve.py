"""Run the web server (granian, labeler/http_server.py) and, unless told otherwise, the
job workers in the same process: the embedded mode. With `--processes N`, N such
processes share the port (labeler/web_processes.py), the first with the job workers."""
import argparse
import logging
import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from labeler import http_server

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve HTTP and websockets (granian), with job workers in-process (embedded mode)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="Run jobs elsewhere (`manage.py run_huey`).")
        parser.add_argument("--workers", type=int, default=None, help="Job worker threads (default from WORKER_THREADS).")
        parser.add_argument(
            "--processes", type=int, default=None,
            help="Web processes sharing the port (default LABELER_WEB_PROCESSES, or 1): one per core serves "
            "more annotators at once.",
        )
        parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)  # a shared socket's descriptor
        parser.add_argument(
            "--bootstrap", action="store_true",
            help="First do what `manage.py bootstrap` does, in this process (`make run`: one start of Python "
            "and Django instead of two).",
        )

    def handle(self, *args, host: str, port: int, no_worker: bool, workers: int | None, bootstrap: bool,
               processes: int, fd: int | None, **options):
        from huey.contrib.djhuey import HUEY

        from labeler.asgi import application

        processes = processes or _processes_from_environment()
        if bootstrap:
            call_command("bootstrap", stdout=self.stdout, stderr=self.stderr)
            connections.close_all()
        if processes > 1 and fd is None:
            sys.exit(self._supervise(host, port, processes, no_worker, workers))
        consumer = None
        started = []
        if not no_worker and not HUEY.immediate:
            threads = workers or settings.HUEY.get("consumer", {}).get("workers", 2)
            consumer = HUEY.create_consumer(
                workers=threads, worker_type="thread", periodic=False, initial_delay=0.05, max_delay=0.25,
                shutdown_timeout=30,
            )
            from activelearning.services import resume_queued_jobs

            resume_queued_jobs(reclaim_running=not settings.REDIS_URL)

        def start_jobs():
            # Called once the server listens: a round already queued (bootstrap asks for
            # one) would otherwise compete with the start-up for the GIL and SQLite's lock.
            consumer.start()
            started.append(consumer)

        if fd is None:
            url = f"http://{host}:{port}/"
            jobs = "in this process" if consumer else "external workers"
            self.stdout.write(f"Serving on {url} (jobs: {jobs})", ending="\n")
            self.stdout.flush()
        try:
            http_server.serve(
                application, host=host, port=port, fd=fd, behind_proxy=settings.LABELER_BEHIND_PROXY,
                on_ready=start_jobs if consumer is not None else None,
            )
        finally:
            if started:
                consumer.stop(graceful=True)
        # The server has stopped; a request thread stuck in a sync view must not keep the
        # process alive after the user asked it to stop (the job state is in the database).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def _supervise(self, host: str, port: int, processes: int, no_worker: bool, workers: int | None) -> int:
        from labeler.web_processes import Supervisor, listening_socket

        sock = listening_socket(host, port)
        base = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "serve", "--fd", str(sock.fileno())]
        if workers:
            base += ["--workers", str(workers)]
        commands = [base + (["--no-worker"] if n > 0 or no_worker else []) for n in range(processes)]
        jobs = "external workers" if no_worker else "in the first web process"
        self.stdout.write(f"Serving on http://{host}:{port}/ ({processes} web processes; jobs: {jobs})", ending="\n")
        self.stdout.flush()
        return Supervisor(commands, sock).run()


def _processes_from_environment() -> int:
    value = os.environ.get("LABELER_WEB_PROCESSES", "1")
    if not value.isdigit() or int(value) < 1:
        raise CommandError(f"LABELER_WEB_PROCESSES must be a whole number of 1 or more, not {value!r}.")
    return int(value)

