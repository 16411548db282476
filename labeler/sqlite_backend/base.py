"""SQLite whose write transactions queue for a lock instead of polling the file lock.

SQLite lets one transaction write at a time. A thread that finds the lock taken sleeps
in SQLite's busy handler with growing back-off (up to 100 ms a sleep) and tries again,
so when the lock comes free nobody may be waiting on it, and whoever tries next wins,
not whoever came first: with twenty annotators on one web process, a few requests waited
seconds while the rest took 70 ms. Here a thread takes a lock of the process before it
begins a write transaction, then an flock on a file beside the database shared with the
installation's other processes (`serve --processes N`, a separate job worker), and lets
go of both when the transaction ends: a waiting writer of this process starts the moment
the last one ends, and one process's waiting writer (one at a time) tries the file lock
every `CROSS_PROCESS_POLL_S`, not after SQLite's back-off. With two web processes on
SQLite's own lock, twenty annotators saw next-task p99 of 1.6 s.

A thread that waits longer than `LABELER_DB_LOCK_TIMEOUT_S` gets "database is locked",
answered 503 (labeler/db_busy.py), as when SQLite's busy timeout runs out.

Its cursors also remember each statement's conversion from Django's `%s` placeholders
to SQLite's `?`: Django runs a regular expression over every statement it sends, and the
request path sends the same few statements again and again.
"""
import fcntl
import functools
import os
import threading
import time

from django.conf import settings
from django.db import OperationalError
from django.db.backends.sqlite3 import base

_WRITER = threading.Lock()
CROSS_PROCESS_POLL_S = 0.0005


class _FileLock:
    """The writer lock shared with other processes: an flock on `<database>-writer.lock`.
    Used only by the holder of `_WRITER`, so one thread of the process at a time."""

    def __init__(self):
        self._fd: int | None = None
        self._opened_as: tuple[int, str] | None = None  # (pid, path): a forked child opens its own

    def _open(self, path: str) -> int:
        if self._opened_as != (os.getpid(), path):
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            self._opened_as = (os.getpid(), path)
        return self._fd

    def acquire(self, path: str, deadline: float) -> bool:
        fd = self._open(path)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(CROSS_PROCESS_POLL_S)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)


_FILE_LOCK = _FileLock()


# Bounded: at most this many statements of at most this length (bulk inserts, longer
# and each of its own size, are converted every time).
REMEMBERED_STATEMENTS = 1024
REMEMBERED_LENGTH = 4000


@functools.lru_cache(maxsize=REMEMBERED_STATEMENTS)
def _remembered_qmark(query: str) -> str:
    return _qmark(query)


def _qmark(query: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class CursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query, *, param_names=None):
        if param_names is not None:
            return super().convert_query(query, param_names=param_names)
        return _remembered_qmark(query) if len(query) <= REMEMBERED_LENGTH else _qmark(query)


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_writer = False
    _holds_file_lock = False

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=CursorWrapper)

    def _start_transaction_under_autocommit(self):
        self._take_writer()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._let_writer_go()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._let_writer_go()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._let_writer_go()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._let_writer_go()

    def _take_writer(self) -> None:
        if self._holds_writer:
            return
        deadline = time.monotonic() + settings.DB_LOCK_TIMEOUT_S
        if not _WRITER.acquire(timeout=settings.DB_LOCK_TIMEOUT_S):
            raise OperationalError("database is locked (waited for this process's other writers)")
        self._holds_writer = True
        if self.is_in_memory_db():
            return
        if not _FILE_LOCK.acquire(f"{self.settings_dict['NAME']}-writer.lock", deadline):
            self._let_writer_go()
            raise OperationalError("database is locked (waited for another process's writers)")
        self._holds_file_lock = True

    def _let_writer_go(self) -> None:
        if self._holds_file_lock:
            self._holds_file_lock = False
            _FILE_LOCK.release()
        if self._holds_writer:
            self._holds_writer = False
            _WRITER.release()
