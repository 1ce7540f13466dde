"""The Node reference for `python -m bench --engine node`: the Fastify +
BullMQ + PostgreSQL design of the original, in bench/node_reference/, started
the way LocalEngine starts this engine so that both run the same load on the
same machine. It speaks the same REST and WebSocket contract for what the
load uses (placing an order, its socket, health); it has none of this
engine's limit and sniper orders, admission cap across processes, rate
limits, idempotency keys, metrics, logs or pools kept in the database."""

import shutil
import subprocess
from pathlib import Path

from bench.engine import ROOT, EngineConfig, LocalEngine, flush_redis_db

NODE_ROOT = ROOT / "bench" / "node_reference"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_node"


def recreate_database(url: str, *, show) -> None:
    """DROP and CREATE the database the URL names, through the server's `postgres` database."""
    import dj_database_url
    import psycopg

    name = dj_database_url.parse(url)["NAME"]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    show(["psql", admin, "-c", f'DROP DATABASE IF EXISTS "{name}"', "-c", f'CREATE DATABASE "{name}"'])
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


class NodeReference(LocalEngine):
    def __init__(self, config: EngineConfig, *, tag: str):
        super().__init__(config, tag=tag)
        if not config.database_url:
            self.database_url = DEFAULT_DATABASE_URL
        if not self.database_url.startswith(("postgres://", "postgresql://")):
            raise SystemExit("--engine node needs a PostgreSQL --database-url")
        self.env_overrides = {
            key: value
            for key, value in self.env_overrides.items()
            if key not in ("DJANGO_SETTINGS_MODULE", "DEBUG", "PYTHONUNBUFFERED")
        }
        self.env_overrides.update(
            {"HOST": "127.0.0.1", "PORT": str(self.port), "DATABASE_URL": self.database_url}
        )
        self.env = {**self.env, **self.env_overrides}
        self.cwd = NODE_ROOT
        self.node = shutil.which("node") or "node"

    @property
    def ready_workers(self) -> int:
        return 1

    def prepare(self) -> None:
        self.config.out_dir.mkdir(parents=True, exist_ok=True)
        installed = NODE_ROOT / "node_modules" / ".package-lock.json"
        lock = NODE_ROOT / "package-lock.json"
        if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
            argv = ["npm", "ci", "--no-audit", "--no-fund"]
            self._show(argv)
            subprocess.run(argv, cwd=NODE_ROOT, check=True, stdout=subprocess.DEVNULL)
        if self.config.flush_redis:
            flush_redis_db(self.config.redis_url)
        recreate_database(self.database_url, show=self._show)

    def roles(self) -> dict[str, list[str]]:
        return {
            "web": [self.node, str(Path("api.js"))],
            "worker": [self.node, str(Path("worker.js"))],
        }
