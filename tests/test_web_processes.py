"""The web side is several daphne processes on one port (python -m
config.web): they share the listening socket, and one that dies is replaced
while the others go on serving."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import daphne.cli
import pytest
import websockets

from bench.procs import children
from config.server import access_log_only_when_asked
from config.web import cores_available, default_processes
from tests.engine import LOG_DIR, ROOT, database_url, free_port, wait_until
from tests.test_metrics import scrape, total


def test_a_killed_web_process_is_replaced_and_the_port_keeps_answering(engines, market):
    engine = engines()
    launcher = engine.processes["web"].pid
    count = int(engine.env.get("WEB_PROCESSES") or default_processes())
    assert count >= 2, "this test needs two web processes or more"
    servers = wait_until(
        lambda: len(children(launcher)) == count and children(launcher),
        timeout=10,
        message=f"{count} web processes",
    )

    os.kill(servers[0], signal.SIGKILL)
    # The other process holds the same socket: the port still answers.
    wait_until(engine.healthy, timeout=10, message="the surviving web process to answer")
    replaced = wait_until(
        lambda: len(now := children(launcher)) == count and servers[0] not in now and now,
        timeout=20,
        message="the launcher to start a new web process",
    )

    assert servers[1] in replaced
    placed = engine.place({"amount": "0.1"})
    assert engine.wait_terminal(placed["orderId"])["status"] == "confirmed"


@pytest.mark.django_db
def test_a_web_process_is_warm_before_it_serves():
    """Importing the application (as each daphne does before it listens)
    imports the URLs and their views, makes the channel layer and opens
    every HTTP thread's database connection (config/asgi.py)."""
    probe = (
        "import sys\n"
        "import config.asgi\n"
        "from channels.layers import channel_layers\n"
        "from django.db import connection\n"
        "executors = config.asgi.http._executors\n"
        "opened = [e.submit(lambda: connection.connection is not None).result() for e in executors]\n"
        "assert opened and all(opened), opened\n"
        "assert 'config.urls' in sys.modules\n"
        "assert 'default' in channel_layers.backends\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": database_url()}
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-2000:]


def test_a_web_process_that_cannot_start_stops_the_launcher(tmp_path):
    """A bad setting fails every daphne at import: the launcher reports it and
    exits, rather than start them again forever."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "ORDER_CONCURRENCY": "many"}
    run = subprocess.run(
        [sys.executable, "-m", "config.web", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "failed to start" in run.stdout
    assert "ORDER_CONCURRENCY must be an integer" in run.stderr


def test_the_web_processes_run_on_uvloop(engines, market):
    """Their event loop is uvloop's (config.server), not the standard library's."""
    engine = engines()
    launcher = engine.processes["web"].pid
    count = int(engine.env.get("WEB_PROCESSES") or default_processes())

    def with_uvloop(pid: int) -> bool:
        try:
            return "uvloop/loop." in Path(f"/proc/{pid}/maps").read_text()
        except FileNotFoundError:  # exited since it was listed
            return False

    wait_until(
        lambda: len(servers := children(launcher)) == count and all(map(with_uvloop, servers)),
        timeout=10,
        message=f"{count} web processes with uvloop loaded",
    )


def test_access_lines_are_written_only_where_access_log_says(engines, market, tmp_path):
    """daphne's access log (a line per request and per WebSocket event) is
    off unless ACCESS_LOG names where it goes (config.server)."""
    quiet = engines()
    web_log = LOG_DIR / f"{quiet.name}-web.log"
    written_before = web_log.stat().st_size
    placed = quiet.place({"amount": "0.1"})
    # The POST's line would be written as its reply went out, long before
    # the order is confirmed.
    assert quiet.wait_terminal(placed["orderId"])["status"] == "confirmed"
    with web_log.open("rb") as lines:
        lines.seek(written_before)
        assert b"POST /api/orders/execute" not in lines.read()

    access_log = tmp_path / "access.log"
    asked = engines("access-log", ACCESS_LOG=str(access_log))
    asked.place({"amount": "0.1"})
    wait_until(
        lambda: access_log.exists() and '"POST /api/orders/execute" 202' in access_log.read_text(),
        timeout=10,
        message="the POST's line in ACCESS_LOG",
    )


@pytest.mark.parametrize(
    ("arguments", "access_log", "written_to"),
    [
        ([], None, None),
        ([], "", None),
        ([], "off", None),
        ([], "/var/log/access.log", "/var/log/access.log"),
        ([], "-", "-"),
        ([], "true", "-"),
        ([], "-odd-name", "-odd-name"),
        (["--access-log", "/a.log"], "/b.log", "/a.log"),
        (["--access=/a.log"], None, "/a.log"),
        (["--ac", "/a.log"], "off", "/a.log"),
    ],
)
def test_the_access_log_goes_where_asked_and_nowhere_by_default(
    arguments, access_log, written_to, monkeypatch
):
    if access_log is None:
        monkeypatch.delenv("ACCESS_LOG", raising=False)
    else:
        monkeypatch.setenv("ACCESS_LOG", access_log)
    monkeypatch.setattr(daphne.cli, "AccessLogGenerator", daphne.cli.AccessLogGenerator)
    argv = ["config.server", *arguments, "--fd", "3", "config.asgi:application"]

    access_log_only_when_asked(argv)

    parsed = daphne.cli.CommandLineInterface().parser.parse_args(argv[1:])
    assert parsed.access_log == written_to
    if written_to is None:
        assert daphne.cli.AccessLogGenerator(None) is None  # daphne's server gets no action logger
    else:
        assert daphne.cli.AccessLogGenerator.__name__ == "AccessLogGenerator"


def test_the_web_entry_point_chooses_uvloop_before_daphne_makes_its_loop():
    """daphne makes its event loop when daphne.server is imported: chosen
    later, uvloop would go unused without a word. This runs the entry point
    itself, with --help so that no server starts."""
    _after_the_web_entry_point(
        "import daphne.server, uvloop\n"
        "from twisted.internet import reactor\n"
        "loop = daphne.server.twisted_loop\n"
        "assert isinstance(loop, uvloop.Loop), type(loop)\n"
        "assert reactor._asyncioEventloop is loop\n"
    )


def test_the_web_entry_point_leaves_autobahn_debug_arguments_plain():
    """autobahn builds its debug lines' arguments on every frame, coloured
    for a terminal; the entry point makes them plain (config.server)."""
    _after_the_web_entry_point(
        "from autobahn.twisted import websocket\n"
        "from autobahn.websocket import protocol\n"
        "for module in (websocket, protocol):\n"
        "    name = module.hltype(protocol.WebSocketProtocol.sendData)\n"
        "    assert name == 'WebSocketProtocol.sendData', repr(name)\n"
        "    assert module.hlval(42) == 42\n"
    )


def test_the_web_entry_point_serves_with_the_server_that_lets_connections_go():
    """config.daphne_server: a closed connection leaves daphne's list when
    its application returns, not up to a second later."""
    _after_the_web_entry_point(
        "from daphne.cli import CommandLineInterface\n"
        "from config.daphne_server import PromptServer\n"
        "assert CommandLineInterface.server_class is PromptServer\n"
    )


def _after_the_web_entry_point(checks: str) -> None:
    """Run `checks` in a fresh interpreter once config.server has run as
    daphne's entry point, with --help so that no server starts."""
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['config.server', '--help']\n"
        "try:\n"
        "    runpy.run_module('config.server', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
    ) + checks
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.mark.parametrize(
    "cpu_max, expected",
    [
        ("200000 100000\n", 2),  # 2 CPUs
        ("50000 100000\n", 1),  # half a CPU: still one
        ("150000 100000\n", 2),  # 1.5 CPUs, rounded up
        ("max 100000\n", None),  # no quota: the cores it may run on
        (None, None),  # no cgroup v2 file
    ],
)
def test_the_default_count_follows_the_cgroup_cpu_quota(tmp_path, cpu_max, expected):
    if cpu_max is not None:
        (tmp_path / "cpu.max").write_text(cpu_max)
    may_run_on = len(os.sched_getaffinity(0))

    assert cores_available(tmp_path) == min(expected or may_run_on, may_run_on)


@pytest.mark.parametrize(("quota", "expected"), [("100000", 1), ("-1", None)])
def test_the_default_count_follows_a_cgroup_v1_quota(tmp_path, quota, expected):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu/cpu.cfs_quota_us").write_text(f"{quota}\n")
    (tmp_path / "cpu/cpu.cfs_period_us").write_text("100000\n")
    may_run_on = len(os.sched_getaffinity(0))

    assert cores_available(tmp_path) == min(expected or may_run_on, may_run_on)


def test_the_sockets_of_a_killed_web_process_are_not_counted_open(engines, market, tmp_path):
    engine = engines("own-metrics", PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    launcher = engine.processes["web"].pid
    count = int(engine.env.get("WEB_PROCESSES") or default_processes())
    servers = wait_until(lambda: len(children(launcher)) == count and children(launcher), timeout=10)

    async def scenario() -> None:
        sockets = [await websockets.connect(f"{engine.ws}/ws/orders") for _ in range(3 * count)]
        await until(lambda: open_sockets(engine) == len(sockets), "every socket counted")
        # The first daphne that holds any of them (each has a file once it has had one).
        victim = next(pid for pid in servers if (tmp_path / f"gauge_livesum_{pid}.db").exists())
        os.kill(victim, signal.SIGKILL)
        await until(lambda: victim not in children(launcher), "the launcher to replace it")

        alive = 0
        for socket in sockets:
            try:
                await asyncio.wait_for(await socket.ping(), timeout=5)
                alive += 1
            except (websockets.ConnectionClosed, TimeoutError):
                pass
        assert alive < len(sockets), "the killed daphne held sockets"
        await until(lambda: open_sockets(engine) == alive, f"{alive} sockets counted open")
        for socket in sockets:
            await socket.close()

    asyncio.run(scenario())


def open_sockets(engine) -> float:
    return total(scrape(engine), "websocket_connections", consumer="OrdersFeedConsumer")


async def until(condition, what: str, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"waited {timeout} s for {what}"
        await asyncio.sleep(0.1)
