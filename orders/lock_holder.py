"""Who holds the admission lock, and whether they are gone.

A lock's token names its holder: this machine's boot, its process
namespace and the holder's pid. A waiter on the same machine and in the same
namespace can then see that the holder was killed (no such process) and
take the lock down, rather than wait for it to expire. Anywhere else it
cannot tell, and waits."""

import functools
import os
import uuid


@functools.cache
def this_machine() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot_id:
            boot = boot_id.read().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None  # not Linux: no holder is ever judged gone
    return f"{boot}/{namespace}"


def holder_token() -> str:
    return f"{this_machine() or 'unknown'}:{os.getpid()}:{uuid.uuid4().hex}"


def holder_is_gone(token: bytes | None) -> bool:
    """Whether the token names a process of this machine that no longer
    exists. A pid taken again since by another process reads as alive: the
    lock is then waited out, as it would have been."""
    if not token or this_machine() is None:
        return False
    machine, _, rest = token.decode(errors="replace").partition(":")
    pid = rest.partition(":")[0]
    if machine != this_machine() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, and is someone else's
    return False
