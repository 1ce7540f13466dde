"""config.per_process: one of each thing per process, made anew in a
forked child, even one forked while another thread was making something."""

import os
import threading

from config.per_process import per_process


def test_a_child_forked_while_another_thread_holds_the_lock_makes_its_own():
    made_in_parent = per_process("per-process-test", lambda: os.getpid())
    holding, release = threading.Event(), threading.Event()

    def make_slowly():
        holding.set()
        release.wait(10)
        return "slow"

    maker = threading.Thread(target=lambda: per_process("per-process-slow", make_slowly))
    maker.start()
    holding.wait(10)  # the maker is inside the lock now
    child = os.fork()
    if child == 0:
        # Without a fresh lock this would wait forever; the alarm ends it instead.
        import signal

        signal.alarm(5)
        ok = per_process("per-process-test", lambda: os.getpid()) == os.getpid()
        os._exit(0 if ok else 1)
    release.set()
    maker.join(10)
    _, status = os.waitpid(child, 0)

    assert made_in_parent == os.getpid()
    assert os.waitstatus_to_exitcode(status) == 0
