"""python -m bench: load an order engine and report what it costs.

    python -m bench -n 2000 -c 50                       # starts an engine, zero latency
    python -m bench --profile realistic --concurrency-cap 100 --workers 8 -n 3000 -c 200
    python -m bench --url http://127.0.0.1:8000 --pids 1234,1240,1251 -n 500
    python -m bench --idle 30                           # CPU of an idle engine
    python -m bench --smoke                             # 20 orders, zero latency

Everything it starts is printed as a command line on stderr; the table and
the JSON document go to stdout, and the JSON, the charts and the engine's
logs to --out (bench/out/ by default).
"""

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.client import place_waiting, run_load
from bench.engine import DEFAULT_REDIS_URL, PROFILES, ROOT, EngineConfig, LocalEngine, say
from bench.node_engine import NodeReference
from bench.procs import Sampler


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    target = parser.add_argument_group("the engine")
    target.add_argument("--url", help="drive a running engine at this URL instead of starting one")
    target.add_argument(
        "--start",
        action="store_true",
        help="start an engine on a free port (the default when --url is not given)",
    )
    target.add_argument(
        "--pids",
        default="",
        help="with --url: comma-separated pids of the engine's processes (their children "
        "are found); without it CPU and memory are not measured",
    )
    target.add_argument(
        "--engine",
        choices=("django", "node"),
        default="django",
        help="what to start: this engine (default), or the Node reference in bench/node_reference "
        "(Fastify + BullMQ + PostgreSQL; needs node, npm and a PostgreSQL --database-url, "
        "default postgres://postgres@127.0.0.1:5432/bench_node, dropped and created first)",
    )
    target.add_argument("--workers", type=int, default=2, help="rq worker processes (default 2)")
    target.add_argument(
        "--web-processes",
        type=int,
        help="daphne processes on the one port (default: the engine's, one more than the cores)",
    )
    target.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="zero",
        help="mock latencies: zero (0 ms, 0 ms) or realistic (200 ms quotes, 2-3 s swaps)",
    )
    target.add_argument("--concurrency-cap", type=int, default=10, help="ORDER_CONCURRENCY (default 10)")
    target.add_argument(
        "--database-url", help="default: a fresh SQLite file under --out, migrated and seeded"
    )
    target.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help=f"a Redis database of the benchmark's own; flushed before start (default {DEFAULT_REDIS_URL})",
    )
    target.add_argument("--no-flush", action="store_true", help="do not FLUSHDB the --redis-url database")
    target.add_argument("--debug", action="store_true", help="run the engine with DEBUG=True (default False)")
    target.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="more environment for the engine's processes (repeatable)",
    )
    load = parser.add_argument_group("the load")
    load.add_argument("-n", "--orders", type=int, default=500, help="orders to place (default 500)")
    load.add_argument("-c", "--clients", type=int, default=50, help="concurrent clients (default 50)")
    load.add_argument(
        "--rate",
        type=float,
        metavar="ORDERS_PER_S",
        help="open loop: place orders at this rate whatever the engine does, instead of C clients "
        "that each wait for their last order (latency at a given load, not at saturation)",
    )
    load.add_argument(
        "--order-timeout",
        type=float,
        default=None,
        help="an order with no terminal status this long after its POST is lost "
        "(default 60 s, 300 s with --profile realistic)",
    )
    load.add_argument(
        "--waiting",
        type=int,
        default=0,
        metavar="ORDERS",
        help="first place this many limit orders far from the price, left waiting through the run: "
        "every pool update then checks them for a crossing (default 0)",
    )
    load.add_argument("--smoke", action="store_true", help="20 orders, 5 clients, zero latency")
    load.add_argument(
        "--idle",
        type=float,
        metavar="SECONDS",
        help="place nothing: measure the engine's CPU while idle for this long",
    )
    load.add_argument(
        "--settle", type=float, default=5, help="with --idle: seconds to wait first (default 5)"
    )
    output = parser.add_argument_group("output")
    output.add_argument("--label", help="a name for this run in the table, the charts and the files")
    output.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="default bench/out/")
    output.add_argument("--json-out", type=Path, help="also write the JSON document here")
    output.add_argument("--no-charts", action="store_true")
    output.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.orders, args.clients, args.profile = 20, min(args.clients, 5), "zero"
    if args.order_timeout is None:
        args.order_timeout = 300 if args.profile == "realistic" else 60
    if args.url and args.start:
        parser.error("--url drives a running engine; --start starts one: choose one")
    return args


# The loop BENCHMARKS.md times with `python3 -c`, run as that runs it: at
# module level, its names global.
_SUM_LOOP = compile("total = 0\nfor i in range(count):\n    total += i\n", "<speed>", "exec")


def python_speed(runs: int = 3, count: int = 2_000_000) -> float:
    """Seconds this CPython takes to add up 10 million integers one at a time
    (best of `runs`, measured on a fifth of that), so that figures taken on
    machines of different speeds can be set side by side: the engine's CPU
    per order follows it far more closely than the core count or model name."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        exec(_SUM_LOOP, {"count": count})
        best = min(best, time.perf_counter() - started)
    return round(best * 10_000_000 / count, 3)


def machine() -> dict:
    memory = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        "0",
    )
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(int(memory) / 1024 / 1024, 1),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_sum_10m_seconds": python_speed(),
    }


def redis_cpu(url: str) -> float | None:
    """The Redis server's own CPU seconds (the whole server, shared with its other databases)."""
    try:
        import redis

        info = redis.Redis.from_url(url, socket_timeout=2).info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    except Exception:
        return None


def system_cpu() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not iowait), from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def roots_from(args, engine: LocalEngine | None) -> dict[str, int]:
    if engine:
        return engine.pids()
    roots = {}
    for index, pid in enumerate(filter(None, args.pids.split(","))):
        roots[f"pid{index}"] = int(pid)
    return roots


def git_revision() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+local-changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _exit_on_sigterm(signum, frame):
    # SIGTERM (a `timeout`, a CI runner) unwinds like Ctrl-C, so the engine
    # this run started is stopped in the `finally` below, not orphaned.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    mode = "idle" if args.idle else "load"
    label = args.label or (
        f"idle {args.idle:g}s"
        if args.idle
        else ("Node reference, " if args.engine == "node" else "")
        + f"{args.profile}, cap {args.concurrency_cap}, N={args.orders}, "
        + (f"{args.rate:g} orders/s offered" if args.rate else f"C={args.clients}")
        + (f", {args.waiting} waiting" if args.waiting else "")
    )
    engine = None
    if not args.url:
        extra = dict(item.split("=", 1) for item in args.env)
        config = EngineConfig(
            profile=args.profile,
            workers=args.workers,
            web_processes=args.web_processes,
            concurrency_cap=args.concurrency_cap,
            database_url=args.database_url,
            redis_url=args.redis_url,
            out_dir=args.out,
            debug=args.debug,
            flush_redis=not args.no_flush,
            extra_env=extra,
        )
        engine = (NodeReference if args.engine == "node" else LocalEngine)(config, tag=stamp)
    result: dict = {
        "label": label,
        "mode": mode,
        "started_at": stamp,
        "machine": machine(),
        "revision": git_revision(),
        "argv": sys.argv[1:] if argv is None else argv,
    }
    try:
        if engine:
            engine.start()
            result["engine"] = {
                "kind": args.engine,
                "url": engine.url,
                "started": True,
                "commands": engine.commands,
                "env": engine.env_overrides,
                "workers": args.workers,
            }
            url = engine.url
        else:
            url = args.url.rstrip("/")
            result["engine"] = {"url": url, "started": False}
        if args.waiting and not args.idle:
            result["waiting_orders"] = asyncio.run(place_waiting(url, args.waiting))
            say(f"{result['waiting_orders']} of {args.waiting} limit orders placed, waiting")
            if result["waiting_orders"] < args.waiting:
                say("WARNING: the engine refused some: the run measures fewer waiting orders than asked")
        roots = roots_from(args, engine)
        sampler = Sampler(roots) if roots else None
        if args.idle:
            say(f"idle: waiting {args.settle:g}s, then measuring for {args.idle:g}s")
            time.sleep(args.settle)
        if sampler:
            sampler.start()
        load_before, machine_before = os.getloadavg(), system_cpu()
        redis_before, client_before, started = redis_cpu(args.redis_url), own_cpu(), time.time()
        if args.idle:
            time.sleep(args.idle)
            records = []
        else:
            records = asyncio.run(
                run_load(
                    url=url,
                    orders=args.orders,
                    clients=args.clients,
                    rate=args.rate,
                    order_timeout=args.order_timeout,
                    progress=not args.no_progress,
                )
            )
        elapsed = time.time() - started
        client_cpu = own_cpu() - client_before
        machine_cpu, load_after = system_cpu() - machine_before, os.getloadavg()
        redis_after = redis_cpu(args.redis_url)
        if sampler:
            sampler.stop()
    finally:
        if engine:
            engine.stop()

    result["measured_seconds"] = round(elapsed, 3)
    result["client_cpu_seconds"] = round(client_cpu, 3)
    # Other engineers' tests share this machine: say how busy it was besides us.
    result["machine_cpu_seconds"] = round(machine_cpu, 3)
    result["machine_cpu_share_percent"] = round(100 * machine_cpu / elapsed / (os.cpu_count() or 1), 1)
    result["load_average"] = {
        "before": [round(x, 2) for x in load_before],
        "after": [round(x, 2) for x in load_after],
    }
    if redis_before is not None and redis_after is not None:
        result["redis_server_cpu_seconds"] = round(redis_after - redis_before, 3)
    resources = sampler.summary() if sampler else None
    result["engine_resources"] = resources
    if resources:
        result["other_processes_cpu_seconds"] = round(
            machine_cpu - resources["cpu_seconds"] - client_cpu - result.get("redis_server_cpu_seconds", 0), 3
        )
        if mode == "load" and client_cpu > 0:
            # The client does the same for every order, whatever the engine
            # does: its CPU measures how fast the machine was in this run.
            # Where that moves from run to run (a shared virtual machine), the
            # engine's CPU over it compares runs that raw seconds cannot.
            by_role = {**resources["cpu_seconds_by_role"], "all": resources["cpu_seconds"]}
            result["engine_cpu_per_client_cpu"] = {
                role: round(seconds / client_cpu, 2) for role, seconds in by_role.items()
            }
    result["peak_rss_mb"] = (
        {
            "total": resources["peak_total_rss_mb"],
            "total_pss": resources["peak_total_pss_mb"],
            **{f"{p['role']}:{p['pid']}": p["peak_rss_mb"] for p in resources["processes"]},
        }
        if resources
        else None
    )
    if args.idle:
        result["idle_cpu_percent"] = round(100 * resources["cpu_seconds"] / elapsed, 2) if resources else None
        result["idle_cpu_percent_by_role"] = (
            {
                role: round(100 * value / elapsed, 2)
                for role, value in resources["cpu_seconds_by_role"].items()
            }
            if resources
            else None
        )
        print(json.dumps(result, indent=2))
        print(
            f"idle engine CPU: {result['idle_cpu_percent']}% of one core "
            f"({result['idle_cpu_percent_by_role']}) over {elapsed:.1f}s",
            file=sys.stderr,
        )
    else:
        summary = report.summarize(records, order_timeout=args.order_timeout)
        result.update(summary)
        finished = (
            summary["counts"]["confirmed"] + summary["counts"]["failed"] + summary["counts"]["cancelled"]
        )
        result["cpu_seconds_per_order"] = (
            round(resources["cpu_seconds"] / finished, 4) if resources and finished else None
        )
        prefix = str(args.out / f"result-{stamp}")
        result["charts"] = [] if args.no_charts else report.charts(records, result, prefix=prefix)
        print(report.table(result))
        print(json.dumps(result, indent=2))
    path = args.out / f"result-{stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2))
    say(f"wrote {path}" + (f" and {', '.join(result.get('charts') or [])}" if result.get("charts") else ""))
    if mode == "load":
        counts = result["counts"]
        return 0 if counts["lost"] == 0 and counts["rejected"] == 0 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
