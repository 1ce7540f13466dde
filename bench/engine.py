"""Starting an engine for a benchmark: daphne, an rq worker pool and the clock,
as `make run` does, on a free port, against a database and a Redis database
of the benchmark's own. Every command is printed before it runs."""

import contextlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.procs import stop_process_groups

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"

PROFILES = {
    "zero": {"MOCK_QUOTE_LATENCY_MS": "0", "MOCK_SWAP_LATENCY_MS": "0"},
    "realistic": {"MOCK_QUOTE_LATENCY_MS": "200", "MOCK_SWAP_LATENCY_MS": "2000-3000"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def get_json(url: str, *, timeout: float = 5) -> tuple[int, dict | None]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        with contextlib.suppress(ValueError):
            return error.code, json.loads(error.read() or b"null")
        return error.code, None


def flush_redis_db(url: str) -> None:
    """FLUSHDB on exactly the database the URL names, never another one."""
    import redis

    parts = urlsplit(url)
    db = parts.path.lstrip("/") or "0"
    if db == "0":
        raise SystemExit(
            f"refusing to flush Redis database 0 ({url}); give --redis-url a database of its own"
        )
    say(f"+ redis-cli -u {url} FLUSHDB")
    redis.Redis.from_url(url).flushdb()


@dataclass
class EngineConfig:
    profile: str = "zero"
    workers: int = 2
    web_processes: int | None = None  # None: the engine's default (WEB_PROCESSES)
    concurrency_cap: int = 10
    database_url: str | None = None  # None: a fresh SQLite file in out_dir
    redis_url: str = DEFAULT_REDIS_URL
    out_dir: Path = ROOT / "bench" / "out"
    port: int | None = None
    debug: bool = False
    flush_redis: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)


class LocalEngine:
    """An engine the benchmark started, and stops."""

    def __init__(self, config: EngineConfig, *, tag: str):
        self.config = config
        self.tag = tag
        self.port = config.port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = config.out_dir / "logs"
        self.database_url = config.database_url or f"sqlite:///{config.out_dir / f'engine-{tag}.sqlite3'}"
        # Only what differs from the caller's environment is printed and set on
        # top of it; everything else the engine reads has its documented default.
        self.env_overrides = {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": config.redis_url,
            "ORDER_CONCURRENCY": str(config.concurrency_cap),
            **PROFILES[config.profile],
            "MOCK_FAILURE_RATE": "0",
            "MOCK_SEED": "bench",
            # One client places every order: the per-client limit would throttle
            # it. Raised out of reach, not turned off: each POST still pays for
            # counting, as it does in a deployment.
            "RATE_LIMIT_PER_MINUTE": "1000000000",
            "DEBUG": "True" if config.debug else "False",
            # Its own: a `make run` in the same checkout would count the bench's orders.
            "PROMETHEUS_MULTIPROC_DIR": str(config.out_dir / f"metrics-{tag}"),
            "PYTHONUNBUFFERED": "1",
            **config.extra_env,
        }
        self.env = {**os.environ, **self.env_overrides}
        self.cwd = ROOT
        self.processes: dict[str, subprocess.Popen] = {}
        self.commands: list[str] = []

    # --- commands -----------------------------------------------------------

    def _show(self, argv: list[str]) -> str:
        env = " ".join(f"{key}={shlex.quote(value)}" for key, value in self.env_overrides.items())
        line = f"{env} {shlex.join(argv)}"
        self.commands.append(line)
        say(f"+ (cd {shlex.quote(str(self.cwd))} && {line})")
        return line

    def _manage(self, *args: str) -> None:
        argv = [PYTHON, "manage.py", *args]
        self._show(argv)
        subprocess.run(argv, cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL)

    def _spawn(self, role: str, argv: list[str]) -> None:
        self._show(argv)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{self.tag}-{role}.log", "ab")
        # A session of its own, so that stopping it reaches the pool's children.
        self.processes[role] = subprocess.Popen(
            argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def web_argv(self) -> list[str]:
        return [
            PYTHON,
            "-m",
            "config.web",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            *(["--processes", str(self.config.web_processes)] if self.config.web_processes else []),
        ]

    def worker_argv(self) -> list[str]:
        return [
            PYTHON,
            "manage.py",
            "rqworker-pool",
            "orders",
            "--num-workers",
            str(self.config.workers),
        ]

    def clock_argv(self) -> list[str]:
        return [PYTHON, "manage.py", "run_clock"]

    # --- life cycle -----------------------------------------------------------

    def prepare(self) -> None:
        self.config.out_dir.mkdir(parents=True, exist_ok=True)
        if self.config.flush_redis:
            flush_redis_db(self.config.redis_url)
        if self.database_url.startswith("sqlite:///"):
            path = Path(self.database_url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").unlink()
        self._manage("migrate", "--noinput", "--verbosity", "0")
        self._manage("seed_market")

    @property
    def ready_workers(self) -> int:
        """How many workers /api/health must count before the load starts."""
        return self.config.workers

    def roles(self) -> dict[str, list[str]]:
        """The processes to start, by the role the bench reports their CPU under."""
        return {"web": self.web_argv(), "worker": self.worker_argv(), "clock": self.clock_argv()}

    def start(self, *, timeout: float = 60) -> "LocalEngine":
        self.prepare()
        for role, argv in self.roles().items():
            self._spawn(role, argv)
        deadline = time.monotonic() + timeout
        while True:
            for role, process in self.processes.items():
                if process.poll() is not None:
                    self.stop()
                    raise RuntimeError(
                        f"the engine's {role} exited with {process.returncode}; "
                        f"see {self.log_dir / f'{self.tag}-{role}.log'}"
                    )
            with contextlib.suppress(OSError, ValueError):
                status, body = get_json(f"{self.url}/api/health", timeout=2)
                if status == 200 and (body or {}).get("workers", 0) >= self.ready_workers:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the engine did not answer /api/health with {self.ready_workers} "
                    f"workers within {timeout:.0f}s; see {self.log_dir}"
                )
            time.sleep(0.2)
        say(f"engine ready at {self.url} (pids: {self.pids()})")
        return self

    def pids(self) -> dict[str, int]:
        return {role: process.pid for role, process in self.processes.items()}

    def stop(self) -> None:
        stop_process_groups(self.processes.values(), timeout=15)
        self.processes.clear()
        shutil.rmtree(self.env_overrides["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

    def __enter__(self) -> "LocalEngine":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
