"""The benchmark's process sampler counts what the engine's processes spend,
including a process started under a root after the sampling began, and names
it by its root's role. These are the figures BENCHMARKS.md divides by orders."""

import subprocess
import sys
import time

from bench.procs import Sampler

# Starts a child that burns CPU for 0.6 s, a moment after its parent started,
# then waits for it: the parent itself spends almost nothing.
LATE_CHILD = """
import subprocess, sys, time
time.sleep(0.4)
burn = "import time\\nend = time.process_time() + 0.6\\nwhile time.process_time() < end: pass"
subprocess.run([sys.executable, "-c", burn], check=True)
"""


def wait_for(condition, deadline_seconds: float):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_child_started_after_sampling_began_is_counted_under_its_roots_role():
    parent = subprocess.Popen([sys.executable, "-c", LATE_CHILD])
    sampler = Sampler({"worker": parent.pid}, interval=0.05, trees_every=0.2).start()
    try:
        assert wait_for(lambda: parent.poll() is not None, 30), "the parent did not finish"
    finally:
        sampler.stop()
        if parent.poll() is None:
            parent.kill()
    summary = sampler.summary()
    children = [process for process in summary["processes"] if process["pid"] != parent.pid]
    assert children, f"the late child was never seen: {summary['processes']}"
    assert {process["role"] for process in children} == {"worker"}
    # It burned 0.6 s; the last 0.05 s before it exited may fall between samples.
    assert max(process["cpu_seconds"] for process in children) >= 0.4
    assert summary["cpu_seconds_by_role"]["worker"] >= 0.4


def test_the_trees_are_listed_at_most_once_per_trees_every_and_afresh_at_the_end(monkeypatch):
    """Listing the trees reads every process's /proc entry; the known
    processes are read every interval, the trees only every trees_every."""
    from bench import procs

    listings = []
    real = procs.descendants
    monkeypatch.setattr(procs, "descendants", lambda roots: listings.append(time.monotonic()) or real(roots))
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sampler = Sampler({"worker": parent.pid}, interval=0.02, trees_every=0.5).start()
        started = time.monotonic()
        assert wait_for(lambda: len(sampler.series) >= 60, 30), "the sampler stopped sampling"
        elapsed = time.monotonic() - started
        sampler.stop()
    finally:
        parent.kill()
        parent.wait()
    # One at the start, one every 0.5 s, one at the end.
    assert len(listings) <= elapsed / 0.5 + 3
    assert len(sampler.series) > len(listings) * 2
    assert listings[-1] >= started + elapsed - 0.1, "stop() did not list the trees afresh"
