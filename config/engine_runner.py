"""Sets up and runs the engine for `make run`, and stops it when told to.

Why a wrapper: a SIGINT sent to the `make` process alone (not to its whole
process group, as Ctrl-C does) never reaches make's children; make just
waits for them, forever. Make does, however, delete the file its recipe was
building when it gets SIGINT, SIGTERM or SIGHUP. So the recipe builds
`.run/engine.live`: this runner creates it, and when it disappears (or this
runner is signalled, or honcho ends) every process is stopped.

The setup (a Redis, migrations, seed data, the operator account) runs here
too, so that a failure or a Ctrl-C part way through still stops the
redis-server the run started. One run at a time per checkout: a second
would share the live file, the metrics directory and the database.
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
LIVE_FILE = Path(".run/engine.live")
REDIS_STARTED_FILE = Path(".run/redis-started")
# honcho's own stop: SIGTERM to each process, SIGKILL to any left after 5 s.
HONCHO_STOPS_WITHIN = 7
# Signals that end a run: Ctrl-C, kill, a closed terminal, Ctrl-\.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class Run:
    """One run of the engine: its setup steps, then honcho, until told to stop."""

    def __init__(self):
        self.stopping = False
        for number in STOP_SIGNALS:
            signal.signal(number, self.stop)

    def stop(self, *_):
        self.stopping = True

    def asked_to_stop(self) -> bool:
        return self.stopping or not LIVE_FILE.exists()

    def step(self, command: list[str], env: dict | None = None) -> int:
        """Run one setup command to its end, or stop it when the run is told to."""
        process = subprocess.Popen(command, env=env)
        while process.poll() is None:
            if self.asked_to_stop():
                process.terminate()
                process.wait()
                return 0
            time.sleep(0.1)
        return process.returncode

    def set_up(self) -> int:
        python = sys.executable
        manage = str(PROJECT / "manage.py")
        steps = [
            (
                [str(PROJECT / "config/scripts/ensure-redis.sh")],
                {"REDIS_STARTED_FILE": str(REDIS_STARTED_FILE)},
            ),
            ([python, manage, "migrate", "--noinput"], {}),
            ([python, manage, "seed_market"], {}),
            ([python, manage, "ensure_operator"], {}),
        ]
        for command, env in steps:
            say(f"setup: {' '.join(command[2:]) if command[0] == python else Path(command[0]).name}")
            returncode = self.step(command, {**os.environ, **env})
            if returncode or self.asked_to_stop():
                return returncode
        # Samples of the last run's processes would add up with this run's: start empty.
        metrics = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or ".run/metrics")
        metrics.mkdir(parents=True, exist_ok=True)
        for samples in metrics.glob("*.db"):
            samples.unlink(missing_ok=True)
        return 0

    def serve(self) -> int:
        env = dict(os.environ)
        if env.get("LOG_FORMAT", "auto") == "auto" and sys.stdout.isatty():
            # honcho pipes every process's output, so none of them sees the terminal.
            env["LOG_FORMAT"] = "plain"
        address = f"{env.get('HOST', '127.0.0.1')}:{env.get('ENGINE_PORT', '8000')}"
        say(f"Engine starting at http://{address}  (Ctrl-C stops it)")
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile"], env=env, start_new_session=True
        )
        # honcho starts each process in a session of its own: a signal to
        # honcho's group does not reach them. Known here, they can be stopped
        # even when honcho cannot (it dies writing to a terminal that closed).
        processes: set[int] = set()
        while honcho.poll() is None and not self.asked_to_stop():
            processes.update(descendants(honcho.pid))
            time.sleep(0.2)
        processes.update(descendants(honcho.pid))
        if honcho.poll() is None:
            # honcho relays SIGTERM to each process, SIGKILLs any left after 5 s, and exits.
            signal_group(honcho.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                honcho.wait(timeout=HONCHO_STOPS_WITHIN)
        stop_what_is_left(processes)
        if honcho.poll() is None:
            signal_group(honcho.pid, signal.SIGKILL)
            honcho.wait()
        # Ended on its own, the engine failed (a port taken, a crash): make says so.
        return 0 if self.asked_to_stop() else (honcho.returncode or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m config.engine_runner", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--no-setup", action="store_true", help="run the Procfile only, with no setup first")
    args = parser.parse_args(argv)
    other = running_runner()
    if other:
        say(
            f"An engine from this checkout is already running (its runner is pid {other}, in {LIVE_FILE}). "
            f"Stop it first: Ctrl-C where it runs, or kill -TERM {other}."
        )
        return 2
    LIVE_FILE.parent.mkdir(exist_ok=True)
    LIVE_FILE.write_text(f"{os.getpid()}\n")
    run = Run()
    try:
        returncode = 0 if args.no_setup else run.set_up()
        if returncode or run.asked_to_stop():
            return returncode
        return run.serve()
    finally:
        LIVE_FILE.unlink(missing_ok=True)
        stop_the_redis_the_run_started()


def running_runner() -> int | None:
    """The pid of another runner that is alive in this checkout, if any."""
    try:
        pid = int(LIVE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if pid == os.getpid():
        return None
    try:
        # Where /proc is, a pid reused by another program is not a runner.
        return pid if b"config.engine_runner" in Path(f"/proc/{pid}/cmdline").read_bytes() else None
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None
    except OSError:
        pass  # not ours to read (hidepid, another user's): ask the kernel instead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def descendants(pid: int) -> set[int]:
    """A process's children, theirs, and so on, from /proc. honcho runs each
    process from a child of its own (multiprocessing), in a session of its own."""
    found, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = {int(child) for child in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += children - found
            found |= children
    return found


def signal_group(pid: int, number: int) -> bool:
    """Signal the process group `pid` leads, or the process alone if it leads none."""
    try:
        os.killpg(pid, number)
        return True
    except ProcessLookupError:
        pass
    try:
        os.kill(pid, number)
        return True
    except ProcessLookupError:
        return False


def stop_what_is_left(processes: set[int], grace: float = 10) -> None:
    """SIGTERM to the groups of the engine's processes still running, then
    SIGKILL to what is left after `grace` seconds."""
    left = {pid for pid in processes if signal_group(pid, signal.SIGTERM)}
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = {pid for pid in left if signal_group(pid, 0)}
    for pid in left:
        signal_group(pid, signal.SIGKILL)


def say(line: str) -> None:
    # After a closed terminal (SIGHUP), stdout may be gone: the stop must go on.
    try:
        print(line, flush=True)
    except OSError:
        pass


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
            say(f"redis: leaving the server at {url} running: {others} other client(s) use it")
            return
        say(f"redis: stopping the server at {url}, which this run started")
        client.shutdown(nosave=True)
    except (redis.RedisError, ValueError) as exc:
        say(f"redis: could not stop the server at {url} ({exc})")


if __name__ == "__main__":
    sys.exit(main())
