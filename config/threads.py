"""Threads that leave the main thread's signals to it.

The kernel hands a signal sent to a process to any of its threads that does
not block it, and passes over the main thread when that one already has a
signal pending. Python runs its handlers on the main thread only, once that
thread runs Python again. So when two signals come together (an rq worker
gets SIGTERM, sent to its pool's process group, and its pool's SIGINT on top)
another thread can take both off the process's queue, and a main thread
waiting on a socket goes on waiting, the stop unheard (orders/worker.py).
A thread that blocks them never takes them.
"""

import signal
from contextlib import contextmanager

# Stop requests, and rq's job timeout (SIGALRM), which must interrupt the job.
MAIN_THREAD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGALRM}


def leave_signals_to_the_main_thread() -> None:
    """Block them in the calling thread: a thread pool's initializer."""
    signal.pthread_sigmask(signal.SIG_BLOCK, MAIN_THREAD_SIGNALS)


@contextmanager
def signals_held():
    """Block them in this thread meanwhile. A thread started inside inherits
    the block for its life, from its first instruction; one sent meanwhile is
    taken at the end."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, MAIN_THREAD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
