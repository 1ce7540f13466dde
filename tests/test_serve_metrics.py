"""`manage.py serve_metrics`: a worker machine's metrics (every process's
samples in its PROMETHEUS_MULTIPROC_DIR) on a port of their own."""

import os
import signal
import subprocess
import sys
import urllib.request

from tests.engine import ROOT, free_port, wait_until

# What a worker process does: count in multiprocess mode, to a file of its own.
COUNT_IN_A_WORKER = "from prometheus_client import Counter; Counter('swaps_probe', 'probe').inc(3)"


def scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.read().decode()
    except OSError:
        return None


def test_it_serves_the_samples_of_the_machines_processes(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    subprocess.run([sys.executable, "-c", COUNT_IN_A_WORKER], env=env, check=True, timeout=30)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve_metrics", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        text = wait_until(lambda: scrape(f"http://127.0.0.1:{port}/metrics"), timeout=30, message="metrics")
        assert "swaps_probe_total 3.0" in text
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0
