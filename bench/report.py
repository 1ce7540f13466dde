"""Figures from the records of one run: the table, the JSON document, the charts."""

import math
import sys
from collections import Counter
from itertools import pairwise

from bench.client import TERMINAL, OrderRecord

IN_FLIGHT_FROM = "routing"
STAGES = ("pending", "routing", "building", "submitted")


def percentile(values: list[float], share: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _ms(values: list[float]) -> dict:
    def rounded(value):
        return None if value is None else round(value * 1000, 2)

    return {
        "count": len(values),
        "p50": rounded(percentile(values, 0.50)),
        "p90": rounded(percentile(values, 0.90)),
        "p99": rounded(percentile(values, 0.99)),
        "max": rounded(max(values) if values else None),
        "mean": rounded(sum(values) / len(values) if values else None),
    }


def in_flight_intervals(records: list[OrderRecord]) -> list[tuple[float, float]]:
    """(routing reached, terminal reached) per order, in the engine's own `at` times."""
    spans = []
    for record in records:
        start = record.reached.get(IN_FLIGHT_FROM)
        end = next((record.reached[status] for status in TERMINAL if status in record.reached), None)
        if start is not None and end is not None:
            spans.append((start, end))
    return spans


def peak_concurrency(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def summarize(records: list[OrderRecord], *, order_timeout: float) -> dict:
    placed = [record for record in records if record.order_id]
    counts = Counter(record.terminal or "lost" for record in placed)
    rejected = [record for record in records if not record.order_id]
    first_post = min(record.post_started for record in records)
    terminals = [record.terminal_seen for record in placed if record.terminal_seen]
    last_terminal = max(terminals) if terminals else None
    wall = (last_terminal - first_post) if last_terminal else None
    finished = len(terminals)

    post = [record.post_finished - record.post_started for record in records if record.http_status]
    fan_out = [received - at for record in placed for status, at, received in record.messages]
    by_status: dict[str, list[float]] = {}
    for record in placed:
        for status, at, received in record.messages:
            by_status.setdefault(status, []).append(received - at)
    end_to_end = [record.end_to_end for record in placed if record.end_to_end is not None]
    # The engine's own view of an order: from its first status to its last.
    engine_latency = [
        record.reached[record.terminal] - record.reached["pending"]
        for record in placed
        if record.terminal and "pending" in record.reached and record.terminal in record.reached
    ]
    spans = in_flight_intervals(placed)
    in_flight = [end - start for start, end in spans]
    # Time between consecutive statuses, in the engine's own `at` times: where an order waits.
    stages: dict[str, list[float]] = {}
    for record in placed:
        if record.terminal is None:
            continue
        path = [status for status in STAGES if status in record.reached] + [record.terminal]
        for before, after in pairwise(path):
            stages.setdefault(f"{before}->{after}", []).append(record.reached[after] - record.reached[before])
    errors = Counter(record.error_code for record in placed if record.terminal == "failed")
    problems = Counter((record.problem or "").split(":")[0] for record in records if record.problem)
    return {
        "orders": len(records),
        "counts": {
            "confirmed": counts.get("confirmed", 0),
            "failed": counts.get("failed", 0),
            "cancelled": counts.get("cancelled", 0),
            "lost": counts.get("lost", 0),
            "rejected": len(rejected),
        },
        "lost_deadline_seconds": order_timeout,
        "failed_error_codes": dict(errors),
        "client_problems": dict(problems),
        "wall_seconds": round(wall, 3) if wall else None,
        "throughput_orders_per_s": round(finished / wall, 2) if wall else None,
        "throughput_orders_per_min": round(finished / wall * 60, 1) if wall else None,
        "post_latency_ms": _ms(post),
        "ws_latency_ms": _ms(fan_out),
        "ws_latency_ms_by_status": {status: _ms(values) for status, values in sorted(by_status.items())},
        "end_to_end_ms": _ms(end_to_end),
        "engine_order_latency_ms": _ms(engine_latency),
        "in_flight_latency_ms": _ms(in_flight),
        "stage_ms": {name: _ms(values) for name, values in stages.items()},
        "peak_in_flight": peak_concurrency(spans),
        "reconnects": sum(record.reconnects for record in records),
    }


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}"
    return f"{value:,}{unit}"


def table(result: dict) -> str:
    s = result
    rows = [
        (
            "orders (confirmed / failed / lost / rejected)",
            f"{s['orders']} ({s['counts']['confirmed']} / {s['counts']['failed']} / "
            f"{s['counts']['lost']} / {s['counts']['rejected']})",
        ),
        ("wall time, first POST to last terminal seen", _fmt(s["wall_seconds"], " s")),
        (
            "throughput",
            f"{_fmt(s['throughput_orders_per_s'])} orders/s  "
            f"({_fmt(s['throughput_orders_per_min'])} orders/min)",
        ),
        (
            "POST latency p50 / p99",
            f"{_fmt(s['post_latency_ms']['p50'])} / {_fmt(s['post_latency_ms']['p99'])} ms",
        ),
        (
            "status -> client (WebSocket) p50 / p99",
            f"{_fmt(s['ws_latency_ms']['p50'])} / {_fmt(s['ws_latency_ms']['p99'])} ms",
        ),
        (
            "end to end (POST -> terminal seen) p50 / p99",
            f"{_fmt(s['end_to_end_ms']['p50'])} / {_fmt(s['end_to_end_ms']['p99'])} ms",
        ),
        ("in flight (routing -> terminal) mean", _fmt(s["in_flight_latency_ms"]["mean"], " ms")),
        ("peak orders in flight", _fmt(s["peak_in_flight"])),
    ]
    for name, figures in s.get("stage_ms", {}).items():
        rows.append(
            (
                f"  {name} p50 / p99 / mean",
                f"{_fmt(figures['p50'])} / {_fmt(figures['p99'])} / {_fmt(figures['mean'])} ms",
            )
        )
    engine = result.get("engine_resources")
    if engine:
        rows += [
            (
                "engine CPU seconds (per order)",
                f"{engine['cpu_seconds']:.1f} s ({_fmt(result.get('cpu_seconds_per_order'))} s/order)",
            ),
            (
                "  by role",
                ", ".join(f"{role} {value:.1f}" for role, value in engine["cpu_seconds_by_role"].items()),
            ),
            (
                "engine peak memory, RSS sum / PSS sum",
                f"{engine['peak_total_rss_mb']:.0f} / {engine['peak_total_pss_mb']:.0f} MB",
            ),
        ]
        for process in engine["processes"]:
            rows.append(
                (
                    f"  {process['role']} {process['pid']}",
                    f"{process['peak_rss_mb']:.0f} MB RSS, {process['cpu_seconds']:.1f} s CPU  "
                    f"{process['command'][:60]}",
                )
            )
    client = result.get("client_cpu_seconds")
    if client is not None:
        rows.append(("bench client CPU seconds", f"{client:.1f} s"))
    per_client = result.get("engine_cpu_per_client_cpu")
    if per_client:
        rows.append(
            (
                "engine CPU / bench client CPU",
                ", ".join(f"{role} {value:.2f}" for role, value in per_client.items()),
            )
        )
    if result.get("redis_server_cpu_seconds") is not None:
        rows.append(
            ("Redis server CPU seconds (whole server)", f"{result['redis_server_cpu_seconds']:.1f} s")
        )
    if result.get("machine_cpu_share_percent") is not None:
        rows.append(
            (
                "machine busy (all cores) / other processes",
                f"{result['machine_cpu_share_percent']:.0f} % / "
                f"{_fmt(result.get('other_processes_cpu_seconds'), ' s')} CPU  "
                f"(load {result['load_average']['before'][0]} -> {result['load_average']['after'][0]})",
            )
        )
    speed = result.get("machine", {}).get("python_sum_10m_seconds")
    if speed is not None:
        rows.append(("machine speed: CPython sums 10M integers in", f"{speed:.2f} s (lower is faster)"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def charts(records: list[OrderRecord], result: dict, *, prefix: str) -> list[str]:
    """A throughput-over-time chart and a latency histogram, as PNG files."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no charts", file=sys.stderr)
        return []
    placed = [record for record in records if record.order_id]
    if not placed:
        return []
    start = min(record.post_started for record in records)
    end = max([record.terminal_seen or 0 for record in placed] + [record.post_finished for record in records])
    span = max(end - start, 1e-3)
    bin_seconds = 1.0 if span > 20 else max(span / 20, 0.1)
    bins = int(math.ceil(span / bin_seconds)) + 1
    edges = [i * bin_seconds for i in range(bins + 1)]

    def rate(times):
        counts = [0] * bins
        for moment in times:
            counts[min(int((moment - start) / bin_seconds), bins - 1)] += 1
        return [count / bin_seconds for count in counts]

    confirmed = rate([record.terminal_seen for record in placed if record.terminal_seen])
    posted = rate([record.post_finished for record in placed])
    spans = in_flight_intervals(placed)
    in_flight = [sum(1 for s0, s1 in spans if s0 <= start + t < s1) for t in edges[:-1]]

    label = result["label"]
    files = []
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=80)
    ax.step(edges[:-1], posted, where="post", label="placed (POST answered) /s", color="tab:gray", alpha=0.7)
    ax.step(edges[:-1], confirmed, where="post", label="terminal seen on WebSocket /s", color="tab:blue")
    ax.set_xlabel("seconds since the first POST")
    ax.set_ylabel("orders per second")
    ax2 = ax.twinx()
    ax2.plot(edges[:-1], in_flight, color="tab:orange", label="in flight (routing..terminal)")
    ax2.set_ylabel("orders in flight")
    ax2.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(
        lines,
        [line.get_label() for line in lines],
        loc="upper center",
        fontsize=7,
        ncol=3,
        bbox_to_anchor=(0.5, -0.18),
        frameon=False,
    )
    ax.set_title(f"Throughput: {label}", fontsize=10)
    fig.tight_layout()
    path = f"{prefix}-throughput.png"
    fig.savefig(path)
    plt.close(fig)
    files.append(path)

    fan_out = [(received - at) * 1000 for record in placed for _, at, received in record.messages]
    post = [(record.post_finished - record.post_started) * 1000 for record in records if record.http_status]
    end_to_end = [record.end_to_end * 1000 for record in placed if record.end_to_end]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), dpi=80)
    for ax, values, title in (
        (axes[0], post, "POST latency"),
        (axes[1], fan_out, "status -> client (WebSocket)"),
        (axes[2], end_to_end, "end to end (POST -> terminal)"),
    ):
        if values:
            # The last 0.1 % would stretch the axis over an empty tail: count it, don't draw it.
            ax.hist(values, bins=50, color="tab:blue", range=(0, percentile(values, 0.999)))
            for share, style in ((0.5, "--"), (0.99, ":")):
                value = percentile(values, share)
                ax.axvline(
                    value,
                    color="black",
                    linestyle=style,
                    linewidth=1,
                    label=f"p{int(share * 100)} {value:.1f} ms",
                )
            ax.legend(fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("ms", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Latency: {label}", fontsize=10)
    fig.tight_layout()
    path = f"{prefix}-latency.png"
    fig.savefig(path)
    plt.close(fig)
    files.append(path)
    return files
