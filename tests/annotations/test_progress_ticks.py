"""Progress ticks (annotations/progress_ticks.py): the first change is told at once, the
ones that follow within the interval once at its end, each project on its own."""
import threading
import time

from annotations.progress_ticks import ProgressTicks


class Recorder:
    def __init__(self):
        self.sent: list[tuple[int, float]] = []
        self.started = time.monotonic()
        self.lock = threading.Condition()

    def __call__(self, project_id: int) -> None:
        with self.lock:
            self.sent.append((project_id, time.monotonic() - self.started))
            self.lock.notify_all()

    def wait_for(self, count: int) -> None:
        """Until `count` events were sent (a timer thread may start late on a busy machine)."""
        with self.lock:
            self.lock.wait_for(lambda: len(self.sent) >= count, timeout=5)

    def projects(self) -> list[int]:
        return [project for project, _ in self.sent]


def ticking(interval_s: float) -> tuple[Recorder, ProgressTicks]:
    send = Recorder()
    return send, ProgressTicks(send, lambda: interval_s)


def test_changes_within_the_interval_are_told_once_at_its_end():
    send, ticks = ticking(0.3)
    for _ in range(5):
        ticks.changed(7)
    assert send.projects() == [7]  # the first, at once
    send.wait_for(2)
    time.sleep(0.3)
    assert send.projects() == [7, 7]  # the other four, as one
    assert send.sent[1][1] >= 0.3


def test_a_change_after_a_quiet_interval_is_told_at_once():
    send, ticks = ticking(0.1)
    ticks.changed(1)
    time.sleep(0.15)
    ticks.changed(1)
    assert send.projects() == [1, 1]
    time.sleep(0.2)
    assert send.projects() == [1, 1]  # nothing was held back


def test_projects_are_told_apart():
    send, ticks = ticking(0.3)
    ticks.changed(1)
    ticks.changed(2)
    ticks.changed(1)
    assert send.projects() == [1, 2]
    send.wait_for(3)
    assert send.projects() == [1, 2, 1]


def test_an_interval_of_zero_tells_every_change():
    send, ticks = ticking(0)
    for _ in range(3):
        ticks.changed(4)
    assert send.projects() == [4, 4, 4]
