"""One of a thing per process: a Redis client, a queue, a registered script.

Made the first time a process asks, kept, and made anew in a forked child
(an rq worker pool forks its workers). Under a lock: two threads of a web
process that each made a Redis client would drop one, and a dropped client
disconnects its pool under the thread still using it ("Bad file
descriptor"). A new Redis client per call cost 1.7 ms of CPU and a
connection.
"""

import os
import threading
from collections.abc import Callable, Hashable

_made: dict = {}
# Reentrant: making one thing may make another (a queue makes its client).
_making = threading.RLock()


def _unlock_in_child() -> None:
    # A fork while another thread held the lock would leave it held for good
    # in the child, where that thread does not exist.
    global _making
    _making = threading.RLock()


os.register_at_fork(after_in_child=_unlock_in_child)


def per_process(key: Hashable, make: Callable[[], object]):
    """What `make()` returns, made once in this process and kept under `key`."""
    made = _made.get(key)
    if made is None or made[0] != os.getpid():
        with _making:
            made = _made.get(key)
            if made is None or made[0] != os.getpid():
                made = _made[key] = (os.getpid(), make())
    return made[1]
