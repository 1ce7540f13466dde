"""Serves this machine's Prometheus metrics on a port of its own, for a
machine that runs workers (and a clock) but no web server: their samples,
most of the engine's (every routing, swap and status after `pending`), are
written to this machine's PROMETHEUS_MULTIPROC_DIR, which only a web
server's /metrics would otherwise read."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from prometheus_client import CollectorRegistry, multiprocess, start_http_server


class Command(BaseCommand):
    help = "Serve the Prometheus metrics of this machine's engine processes at http://BIND:PORT/metrics."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=9108, help="port to listen on (default 9108)")

    def handle(self, *args, bind, port, **options):
        # The collector reads every process's sample files at each scrape.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(settings.PROMETHEUS_MULTIPROC_DIR))
        server, thread = start_http_server(port, addr=bind, registry=registry)
        self.stdout.write(f"metrics of {settings.PROMETHEUS_MULTIPROC_DIR} at http://{bind}:{port}/metrics")
        stopped = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopped.set())
        stopped.wait()
        server.shutdown()
        thread.join(timeout=5)
