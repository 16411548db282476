"""Shared torch plumbing for the learners. torch is imported inside each function so
that importing the learners (at Django start-up) never pays for it."""
import contextlib
import threading

_threads_lock = threading.RLock()


@contextlib.contextmanager
def compute_threads(count: int | None):
    """Cap torch's and BLAS's threads for the block, then restore them. Small models gain
    nothing from more threads, and spinning threads collapse when the cores are shared
    with the web server or another job (measured 5-10x slower on a busy 2-core machine).
    The setting is process-wide, so capped blocks take turns (re-entrant in a thread)."""
    import torch
    from threadpoolctl import threadpool_limits

    if not count:
        yield
        return
    with _threads_lock, threadpool_limits(limits=int(count)):
        previous = torch.get_num_threads()
        torch.set_num_threads(int(count))
        try:
            yield
        finally:
            torch.set_num_threads(previous)


@contextlib.contextmanager
def seeded(random_state: int | None):
    """Seed torch inside the block only, so weight initialisation is reproducible
    without disturbing the caller's global generator."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if random_state is None else int(random_state))
        yield
