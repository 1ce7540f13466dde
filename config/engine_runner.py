"""Runs the Procfile under honcho for `make run`, and stops it when make is told to.

Why a wrapper: a SIGINT sent to the `make` process alone (not to its whole
process group, as Ctrl-C does) never reaches make's children; make just
waits for them, forever. Make does, however, delete the file its recipe was
building when it gets SIGINT, SIGTERM or SIGHUP. So the recipe builds
`.run/engine.live`: this runner creates it, and when it disappears (or this
runner is signalled, or honcho ends) every process is stopped.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

LIVE_FILE = Path(".run/engine.live")


def main() -> int:
    LIVE_FILE.parent.mkdir(exist_ok=True)
    LIVE_FILE.write_text(f"{os.getpid()}\n")
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "start", "-f", "Procfile"],
        start_new_session=True,  # so that one killpg reaches every process
    )
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while honcho.poll() is None and not stopping and LIVE_FILE.exists():
            time.sleep(0.2)
        asked_to_stop = stopping or not LIVE_FILE.exists()
        if honcho.poll() is None:
            # honcho relays SIGTERM to each process and waits for them to exit.
            os.killpg(honcho.pid, signal.SIGTERM)
            try:
                honcho.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
                honcho.wait()
    finally:
        LIVE_FILE.unlink(missing_ok=True)
    # Ended on its own, the engine failed (a port taken, a crash): make says so.
    return 0 if asked_to_stop else (honcho.returncode or 1)


if __name__ == "__main__":
    sys.exit(main())
