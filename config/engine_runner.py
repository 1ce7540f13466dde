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
REDIS_STARTED_FILE = Path(".run/redis-started")


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
        stop_the_redis_the_run_started()
    # Ended on its own, the engine failed (a port taken, a crash): make says so.
    return 0 if asked_to_stop else (honcho.returncode or 1)


def stop_the_redis_the_run_started() -> None:
    """Stop the redis-server that `make run` started because none answered
    (config/scripts/ensure-redis.sh notes it), once the engine is down:
    unless something else (a test run, another engine) is connected to it."""
    if not REDIS_STARTED_FILE.exists():
        return
    import redis  # here: the runner's own start needs nothing but the standard library

    url, _, run_id = REDIS_STARTED_FILE.read_text().strip().partition(" ")
    REDIS_STARTED_FILE.unlink(missing_ok=True)
    try:
        client = redis.Redis.from_url(url, socket_timeout=5)
        if client.info("server").get("run_id") != run_id:
            return  # another server answers there now: not this run's
        others = len(client.client_list()) - 1
        if others:
            print(f"redis: leaving the server at {url} running: {others} other client(s) use it", flush=True)
            return
        print(f"redis: stopping the server at {url}, which this run started", flush=True)
        client.shutdown(nosave=True)
    except redis.RedisError as exc:
        print(f"redis: could not stop the server at {url} ({exc})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
