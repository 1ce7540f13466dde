"""CPU time and memory of a process tree, read from /proc.

Every 0.2 s the sampler reads, for each process of the engine's trees,
utime+stime from /proc/<pid>/stat and the resident set from
/proc/<pid>/statm; once a second it also lists the trees again (the
descendants of the engine's root processes, from a scan of all of /proc)
and reads the proportional set size (PSS, shared pages divided among the
processes sharing them) from /proc/<pid>/smaps_rollup, because the worker
pool's forked children share most of their pages and a plain RSS sum counts
those several times. The sampler runs on the cores it measures: listing the
trees every 0.2 s was most of its CPU, and the trees change only when a
process starts or dies (nothing forks per job). A process that starts after
a listing is counted from its start at the next one; one that starts and
exits between two listings, within a second, is not counted at all.

The CPU delta of a process is its last sample minus its first one (or
minus nothing if it started during the run). Children's reaped time
(cutime) is left out: with rq's SimpleWorker nothing forks per job, and
adding it would count a pool worker twice when it exits.
"""

import contextlib
import math
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


def _read(path: str) -> str:
    # Plain open(): pathlib's per-call parsing cost more than the read.
    with open(path, encoding="ascii", errors="replace") as file:
        return file.read()


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a live process."""
    try:
        raw = _read(f"/proc/{pid}/stat")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime = int(fields[11]), int(fields[12])
    return ppid, (utime + stime) / CLOCK_TICKS


def _rss(pid: int) -> int | None:
    try:
        return int(_read(f"/proc/{pid}/statm").split()[1]) * PAGE_BYTES
    except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
        return None


def _pss(pid: int) -> int | None:
    try:
        for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def _cmdline(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return "?"
    words = [os.path.basename(argv[0].decode())] + [word.decode() for word in argv[1:] if word]
    # Drop the interpreter: "manage.py rqworker-pool ..." says more than "python".
    if words and words[0].startswith("python") and len(words) > 1:
        words = words[1:]
    return " ".join(words)[:100]


def _children_by_parent() -> dict[int, list[int]]:
    """Every process's children, from one scan of /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat:
                children.setdefault(stat[0], []).append(int(entry.name))
    return children


def children(pid: int) -> list[int]:
    """The processes `pid` started (and that still run), in pid order."""
    return sorted(_children_by_parent().get(pid, []))


def descendants(roots: dict[str, int]) -> dict[str, set[int]]:
    """For each named root, the root and every process below it (one scan of /proc)."""
    children = _children_by_parent()
    trees = {}
    for role, root in roots.items():
        found, todo = set(), [root]
        while todo:
            pid = todo.pop()
            if pid in found or not os.path.exists(f"/proc/{pid}"):
                continue
            found.add(pid)
            todo.extend(children.get(pid, []))
        trees[role] = found
    return trees


@dataclass
class ProcessRecord:
    pid: int
    role: str
    command: str
    cpu_first: float | None = None  # None: started after the mark
    cpu_last: float = 0.0
    peak_rss: int = 0
    peak_pss: int = 0

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_last - (self.cpu_first or 0.0)


@dataclass
class Sampler:
    """Samples the trees under `roots` (role -> pid) in a background thread."""

    roots: dict[str, int]
    interval: float = 0.2
    pss_every: float = 1.0
    trees_every: float = 1.0
    records: dict[int, ProcessRecord] = field(default_factory=dict)
    # (time, total CPU seconds so far, total RSS, total PSS) per sample, for the charts.
    series: list[tuple[float, float, int, int]] = field(default_factory=list)
    peak_total_rss: int = 0
    peak_total_pss: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._marked = False
        self._last_pss = 0.0
        self._pss: dict[int, int] = {}
        self._last_trees = -math.inf  # time.monotonic() of the last listing
        self._trees: dict[str, set[int]] = {}

    def _role_of(self, pid: int, tree: dict[int, set[int]]) -> str:
        for role, members in tree.items():
            if pid in members:
                return role
        return "?"

    def sample(self) -> None:
        now = time.time()
        if time.monotonic() - self._last_trees >= self.trees_every:
            self._last_trees = time.monotonic()
            self._trees = descendants(self.roots)
        tree = self._trees
        pids = set().union(*tree.values()) if tree else set()
        take_pss = now - self._last_pss >= self.pss_every
        if take_pss:
            self._last_pss = now
        total_rss = 0
        with self._lock:
            for pid in pids:
                stat, rss = _stat(pid), _rss(pid)
                if stat is None or rss is None:
                    self._pss.pop(pid, None)  # gone: out of the totals, as its RSS is
                    continue
                record = self.records.get(pid)
                if record is None:
                    record = self.records[pid] = ProcessRecord(pid, self._role_of(pid, tree), _cmdline(pid))
                    if not self._marked:
                        record.cpu_first = stat[1]
                record.cpu_last = stat[1]
                record.peak_rss = max(record.peak_rss, rss)
                total_rss += rss
                if take_pss:
                    pss = _pss(pid)
                    if pss is not None:
                        self._pss[pid] = pss
                        record.peak_pss = max(record.peak_pss, pss)
            total_pss = sum(self._pss.get(pid, 0) for pid in pids)
            self.peak_total_rss = max(self.peak_total_rss, total_rss)
            self.peak_total_pss = max(self.peak_total_pss, total_pss)
            cpu = sum(record.cpu_seconds for record in self.records.values())
            self.series.append((now, cpu, total_rss, total_pss))

    def mark(self) -> None:
        """Start counting CPU from now: every known process's current time is its zero."""
        with self._lock:
            self.records.clear()
            self.series.clear()
            self.peak_total_rss = self.peak_total_pss = 0
        self._last_trees = -math.inf  # list the trees afresh
        self.sample()
        self._marked = True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> "Sampler":
        self.mark()
        self._thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._last_trees = -math.inf
        self.sample()

    def cpu_seconds(self) -> float:
        with self._lock:
            return sum(record.cpu_seconds for record in self.records.values())

    def summary(self) -> dict:
        with self._lock:
            records = sorted(self.records.values(), key=lambda record: (record.role, record.pid))
            by_role: dict[str, float] = {}
            for record in records:
                by_role[record.role] = by_role.get(record.role, 0.0) + record.cpu_seconds
            return {
                "cpu_seconds": round(sum(by_role.values()), 3),
                "cpu_seconds_by_role": {role: round(value, 3) for role, value in by_role.items()},
                "peak_total_rss_mb": round(self.peak_total_rss / MB, 1),
                "peak_total_pss_mb": round(self.peak_total_pss / MB, 1),
                "processes": [
                    {
                        "pid": record.pid,
                        "role": record.role,
                        "command": record.command,
                        "cpu_seconds": round(record.cpu_seconds, 3),
                        "peak_rss_mb": round(record.peak_rss / MB, 1),
                        "peak_pss_mb": round(record.peak_pss / MB, 1),
                    }
                    for record in records
                ],
            }


def stop_process_groups(processes: Iterable[subprocess.Popen], *, timeout: float) -> None:
    """SIGTERM each process's group (each was started in a session of its own,
    so its children go too), wait up to `timeout` seconds for each, and SIGKILL
    the groups that are still there."""
    processes = list(processes)
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
