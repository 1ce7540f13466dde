"""python -m config.web: several daphne processes serving one port.

One daphne process runs Python on one core at a time, and the web side (the
REST calls, every WebSocket and its messages) is most of the engine's CPU:
one process capped the whole engine near 110 orders/s on two cores. This
binds the listening socket once and starts WEB_PROCESSES daphne servers that
share it (daphne's `--fd`); the kernel gives each new connection
to whichever process accepts it first. They need nothing else in common:
sockets of one order may land on different processes, and the channel layer
reaches them all.

A daphne that dies is started again; SIGTERM or SIGINT stops them all. Any
argument after the ones below goes to every daphne as it is.
"""

import argparse
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

STOP_TIMEOUT = 15
# A daphne that exits by itself sooner than this after starting failed to
# start (a bad setting, an import error): starting it again would only fail
# again. One killed by a signal is started again, however young.
STARTUP_SECONDS = 5


def default_processes() -> int:
    """One more than the cores: a daphne process also waits (for its database
    thread, the write lock, Redis), and with one per core the cores idled a
    sixth of the time; on 2 cores 3 processes carried 188-191 orders/s where
    2 carried 165-175."""
    return cores_available() + 1


CGROUP = Path("/sys/fs/cgroup")


def cores_available(cgroup: Path = CGROUP) -> int:
    """The cores this process may use: those it may run on, and no more than
    its cgroup's CPU quota. A container given 2 CPUs of a 64-core host sees
    64 in os.cpu_count(), and 65 daphnes would each open their database
    connections."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux only
    cores = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    quota = _cpu_quota(cgroup)
    return min(cores, max(math.ceil(quota), 1)) if quota else cores


def _cpu_quota(cgroup: Path) -> float | None:
    """CPUs' worth of time the cgroup may use: cgroup v2's cpu.max, or v1's
    cfs quota and period; None when unlimited or unreadable."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    try:
        return int(quota) / int(period) if quota not in ("max", "-1") else None
    except (ValueError, ZeroDivisionError):
        return None


def forget_live_gauges(pid: int) -> None:
    """Drop the samples of a daphne that died without its exit hook (killed):
    its open WebSockets would otherwise count as open for as long as the
    engine runs (orders.metrics: a 'livesum' gauge keeps a file per process)."""
    from prometheus_client import multiprocess

    from config.env import DEFAULT_METRICS_DIR

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(DEFAULT_METRICS_DIR)
    multiprocess.mark_process_dead(pid, directory)


def listening_socket(host: str, port: int) -> socket.socket:
    # Twisted adopts an inherited socket as IPv4 only (its fd endpoint).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.web", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument(
        "--processes",
        type=int,
        default=int(os.environ.get("WEB_PROCESSES") or default_processes()),
        help="daphne processes (default: WEB_PROCESSES, or one more than the cores)",
    )
    args, daphne_args = parser.parse_known_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    try:
        sock = listening_socket(args.bind, args.port)
    except socket.gaierror:
        parser.error(f"--bind {args.bind}: an IPv4 address or host name is needed")
    argv = [
        sys.executable,
        "-m",
        "config.server",
        "--fd",
        str(sock.fileno()),
        *daphne_args,
        "config.asgi:application",
    ]

    def start() -> subprocess.Popen:
        server = subprocess.Popen(argv, pass_fds=(sock.fileno(),))
        server.started = time.monotonic()
        return server

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    servers = [start() for _ in range(args.processes)]
    print(
        f"web: {args.processes} daphne processes on http://{args.bind}:{args.port} "
        f"(pids {', '.join(str(server.pid) for server in servers)})",
        flush=True,
    )
    failed = 0
    while not stopping and not failed:
        for index, server in enumerate(servers):
            if server.poll() is None or stopping:
                continue
            if server.returncode >= 0 and time.monotonic() - server.started < STARTUP_SECONDS:
                print(f"web: daphne {server.pid} failed to start ({server.returncode}); stopping", flush=True)
                failed = server.returncode or 1
                break
            print(f"web: daphne {server.pid} exited with {server.returncode}; starting another", flush=True)
            forget_live_gauges(server.pid)
            servers[index] = start()
        time.sleep(0.5)
    for server in servers:
        if server.poll() is None:
            server.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for server in servers:
        try:
            server.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return failed


if __name__ == "__main__":
    sys.exit(main())
