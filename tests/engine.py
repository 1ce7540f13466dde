"""A real engine for end-to-end tests: daphne, an rq worker pool and the
clock, as separate processes on a free port, against the test database and
the test Redis database."""

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import websockets
from django.conf import settings
from django.db import connection

from bench.procs import stop_process_groups

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / ".run" / "test-logs"


# Latencies for end-to-end tests: the same shape as production, shorter.
FAST_MARKET = {
    "MOCK_QUOTE_LATENCY_MS": "20",
    "MOCK_SWAP_LATENCY_MS": "100-200",
    "MOCK_FAILURE_RATE": "0",
    "ORDER_CONCURRENCY": "10",
    # No other traders: tests reason about exact pool state.
    "MARKET_DRIFT_SECONDS": "0",
    "ORDER_STALL_SECONDS": "5",
    # Two web processes, not one per core and one more: an order's POST and its
    # socket still land on different processes about half of the time, and an
    # engine starts about a second sooner on 2 cores; these engines start two
    # dozen times a run. test_scale_out's second engine runs the default.
    "WEB_PROCESSES": "2",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database pytest-django set up for this session."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    # The session's own URL with the test database's name: its password,
    # socket directory and options (sslmode) stay as they were written.
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{db['NAME']}"))


def wait_until(condition, *, timeout: float, interval: float = 0.05, message: str = "condition"):
    """Poll `condition` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def until_closed(url: str, frames=(), headers: dict | None = None) -> tuple[list[dict], int | None]:
    """Open a WebSocket, send `frames` at once, and read every message until
    the server closes it: (the messages, the close code)."""

    async def talk():
        async with asyncio.timeout(20):
            async with websockets.connect(url, additional_headers=headers) as socket:
                for frame in frames:
                    await socket.send(frame)
                messages = []
                with contextlib.suppress(websockets.ConnectionClosed):
                    while True:
                        messages.append(json.loads(await socket.recv()))
                return messages, socket.close_code

    return asyncio.run(talk())


def blocked_signals(pid: int, thread: int) -> set[int]:
    """The signals a thread of a process blocks, from /proc."""
    status = Path(f"/proc/{pid}/task/{thread}/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)
    return {number for number in range(1, 65) if mask & (1 << (number - 1))}


# Of the caller's environment, what would change what the tests check.
UNINHERITED = ("DJANGO_ALLOW_ASYNC_UNSAFE", "ACCESS_LOG")


class Engine:
    """Processes of one running engine, and a small HTTP client for it."""

    def __init__(self, name: str, env: dict[str, str], *, workers: int = 2, port: int | None = None):
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.env = {
            **{key: value for key, value in os.environ.items() if key not in UNINHERITED},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.workers = workers
        self.processes: dict[str, subprocess.Popen] = {}
        self.last_health: tuple | None = None

    def _spawn(self, role: str, argv: list[str]) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / f"{self.name}-{role}.log", "ab")
        self.processes[role] = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start(self, *, web: bool = True, worker: bool = True, clock: bool = True) -> "Engine":
        python = sys.executable
        try:
            if web:
                self._spawn(
                    "web",
                    [python, "-m", "config.web", "--bind", "127.0.0.1", "--port", str(self.port)],
                )
            if worker:
                self.start_worker()
            if clock:
                self._spawn("clock", [python, "manage.py", "run_clock"])
            if web:
                wait_until(self.healthy, timeout=30, message=f"engine {self.name} to answer /api/health")
        except BaseException as error:
            # Left running, its workers would take the next engine's jobs off
            # the queue they share, and fail tests that have nothing to do with this.
            self.stop()
            if isinstance(error, AssertionError):
                raise AssertionError(f"{error}; its last answer: {self.last_health}") from None
            raise
        return self

    def start_worker(self, role: str = "worker") -> None:
        self._spawn(
            role,
            [
                sys.executable,
                "manage.py",
                "rqworker-pool",
                "orders",
                "--num-workers",
                str(self.workers),
            ],
        )

    def healthy(self) -> bool:
        with contextlib.suppress(OSError, ValueError):
            status, body = self.last_health = self.request("GET", "/api/health")
            return status == 200 and body.get("workers", 0) >= 1
        return False

    @contextlib.contextmanager
    def worker_pool_replaced(self):
        """The worker pool, out of the engine's hands while the caller stops
        it; then whatever is left of its process group is killed, and a new
        pool started, whether or not the stop went as the test expected."""
        pool = self.processes.pop("worker")
        try:
            yield pool
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pool.pid, signal.SIGKILL)
            pool.wait()
            self.start_worker()

    def stop(self) -> None:
        stop_process_groups(self.processes.values(), timeout=10)
        self.processes.clear()

    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def place(self, body=None, **headers) -> dict:
        status, answer = self.request("POST", "/api/orders/execute", body or {"amount": "1"}, headers)
        assert status == 202, (status, answer)
        return answer

    def order(self, order_id: str) -> dict:
        status, answer = self.request("GET", f"/api/orders/{order_id}")
        assert status == 200, (status, answer)
        return answer

    def wait_terminal(self, order_id: str, *, timeout: float = 30) -> dict:
        def terminal():
            order = self.order(order_id)
            return order if order["status"] in ("confirmed", "failed", "cancelled") else None

        return wait_until(terminal, timeout=timeout, interval=0.1, message=f"order {order_id} to end")
