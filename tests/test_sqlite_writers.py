"""SQLite write transactions of one process queue for a lock of the process
(labeler/sqlite_backend): the next writer begins when the last ends, and one that waits
too long is told the database is busy."""
import subprocess
import sys
import threading
import time

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from labeler.db_busy import is_database_busy


@pytest.fixture
def scratch(tmp_path, django_db_blocker):
    """Connections to a scratch SQLite file through the project's backend, one per thread
    (whatever database the suite runs on)."""
    database = {
        "ENGINE": "labeler.sqlite_backend", "NAME": str(tmp_path / "writers.sqlite3"),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
    handler = ConnectionHandler({"default": database, "scratch": database})
    with django_db_blocker.unblock():
        with handler["scratch"].cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)")
        yield handler
        handler.close_all()


def begin(connection):
    """What transaction.atomic does on entering its outermost block."""
    connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def end(connection, commit=True):
    (connection.commit if commit else connection.rollback)()
    connection.set_autocommit(True)


def write(handler, who: str, hold: threading.Event | None = None, began: threading.Event | None = None):
    connection = handler["scratch"]
    begin(connection)
    if began:
        began.set()
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO log (who) VALUES (%s)", [who])
    if hold:
        hold.wait(5)
    end(connection)


def rows(handler) -> list[str]:
    with handler["scratch"].cursor() as cursor:
        cursor.execute("SELECT who FROM log ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def test_a_writer_waits_for_the_one_before_and_starts_when_it_ends(scratch):
    hold, began = threading.Event(), threading.Event()
    first = threading.Thread(target=write, args=(scratch, "first", hold, began))
    first.start()
    began.wait(5)
    second = threading.Thread(target=write, args=(scratch, "second"))
    second.start()
    time.sleep(0.3)
    assert second.is_alive(), "the second writer began while the first held the transaction"
    hold.set()
    first.join(5)
    second.join(5)
    assert rows(scratch) == ["first", "second"]


def test_a_writer_that_waits_too_long_is_told_the_database_is_busy(scratch, settings):
    settings.DB_LOCK_TIMEOUT_S = 0.2
    hold, began = threading.Event(), threading.Event()
    first = threading.Thread(target=write, args=(scratch, "first", hold, began))
    first.start()
    began.wait(5)
    failed = []

    def impatient():
        try:
            begin(scratch["scratch"])
        except OperationalError as exc:
            failed.append(exc)

    waiter = threading.Thread(target=impatient)
    waiter.start()
    waiter.join(5)
    hold.set()
    first.join(5)
    assert len(failed) == 1 and is_database_busy(failed[0])
    write(scratch, "after")  # the lock was let go with the first transaction
    assert rows(scratch) == ["first", "after"]


def test_a_rolled_back_or_closed_transaction_lets_the_next_writer_in(scratch):
    connection = scratch["scratch"]
    begin(connection)
    end(connection, commit=False)
    begin(connection)
    connection.close()
    done = threading.Thread(target=write, args=(scratch, "next"))
    done.start()
    done.join(5)
    assert not done.is_alive() and rows(scratch) == ["next"]


# Another process holding the writer lock for `seconds` (a second web process, a worker).
HOLDER = """
import fcntl, sys, time
fd = open(sys.argv[1], "a+")
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _held_by_another_process(handler, seconds: float) -> subprocess.Popen:
    path = handler["scratch"].settings_dict["NAME"] + "-writer.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, path, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_writer_waits_for_another_processs_writer(scratch):
    holder = _held_by_another_process(scratch, 0.8)
    t0 = time.monotonic()
    write(scratch, "after the other process")
    waited = time.monotonic() - t0
    holder.wait(10)
    assert waited > 0.5 and rows(scratch) == ["after the other process"]


def test_a_writer_waiting_too_long_for_another_process_is_told_the_database_is_busy(scratch, settings):
    settings.DB_LOCK_TIMEOUT_S = 0.3
    holder = _held_by_another_process(scratch, 3)
    try:
        with pytest.raises(OperationalError, match="another process") as failed:
            begin(scratch["scratch"])
        assert is_database_busy(failed.value)
        scratch["scratch"].set_autocommit(True)
    finally:
        holder.kill()
        holder.wait(10)
    write(scratch, "once it has gone")  # the process's own lock was let go too
    assert rows(scratch) == ["once it has gone"]


def test_statements_are_converted_to_sqlite_placeholders_once_and_as_django_does(scratch):
    from labeler.sqlite_backend import base

    base._remembered_qmark.cache_clear()
    query = "SELECT who || %s || '%%' FROM log WHERE who = %s"
    with scratch["scratch"].cursor() as cursor:
        cursor.execute("INSERT INTO log (who) VALUES (%s)", ["a"])
        for _ in range(3):
            cursor.execute(query, ["-", "a"])
            assert cursor.fetchall() == [("a-%",)]
        cursor.execute("SELECT %(x)s || who FROM log", {"x": "named "})
        assert cursor.fetchall() == [("named a",)]
        long_query = "SELECT %s" + " " * base.REMEMBERED_LENGTH
        cursor.execute(long_query, [1])
        assert cursor.fetchall() == [(1,)]
    remembered = base._remembered_qmark.cache_info()
    assert (remembered.hits, remembered.currsize) == (2, 2)  # the repeated query, converted once
